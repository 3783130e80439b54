"""The SAM transform of template.yaml, as CloudFormation runs it on what `sam package` uploaded.

TEMPLATE is the template after the AWS::LanguageExtensions transform (package.translate writes it,
expanded by local.stack.language_extensions): the SAM translator knows nothing of Fn::ForEach.

Runs in the translator's own virtualenv (.tools/samtranslator, local/rehearsal/requirements.txt),
never in the project's: it imports nothing of the project.

    python translate.py TEMPLATE ARTIFACTS_JSON PARAMETERS_JSON OUT_JSON

ARTIFACTS_JSON maps each local CodeUri / ContentUri of the template (as written there) to the
s3:// URI it was uploaded to; a local path missing from it is an error, not a guess.
PARAMETERS_JSON holds the stack's parameter values (CloudFormation hands them to the transform).
Exit 2 with the translator's messages on stderr when the template does not transform.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ARTIFACT_KEYS = ("CodeUri", "ContentUri", "DefinitionUri")


class _NoManagedPolicies:
    """The account's managed policy names -> ARNs: none are looked up offline (SAM writes the
    ARN of the basic execution role itself)."""

    def load(self) -> dict[str, str]:
        return {}


def _rewrite(properties: dict[str, Any], artifacts: dict[str, str], where: str) -> None:
    for key in ARTIFACT_KEYS:
        value = properties.get(key)
        if not isinstance(value, str) or value.startswith("s3://"):
            continue
        if value not in artifacts:
            raise SystemExit(f"{where}.{key} {value!r} was not packaged")
        properties[key] = artifacts[value]


def main(argv: list[str]) -> int:
    template_path, artifacts_json, parameters_json, out_path = argv
    with open(template_path, encoding="utf-8") as stream:
        template = yaml_parse(stream.read())
    artifacts = json.loads(artifacts_json)
    for section, properties in (template.get("Globals") or {}).items():
        _rewrite(properties, artifacts, f"Globals.{section}")
    for logical_id, resource in template.get("Resources", {}).items():
        _rewrite(resource.get("Properties") or {}, artifacts, logical_id)
    try:
        translated = transform(template, json.loads(parameters_json), _NoManagedPolicies())
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(cause.message, file=sys.stderr)
        return 2
    with open(out_path, "w", encoding="utf-8") as stream:
        json.dump(translated, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
