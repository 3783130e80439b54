"""`sam package`, rehearsed: each local CodeUri / ContentUri of template.yaml zipped and uploaded
to a bucket of the emulated account, then the SAM transform (local/rehearsal/translate.py, in the
translator's own virtualenv) with those s3:// URIs, as CloudFormation runs it: on the template the
AWS::LanguageExtensions transform expanded (its Fn::ForEach loops written out).

The code is the source directories, not `sam build`'s output: nothing is invoked in the
rehearsal, the functions only have to exist.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.rehearsal.findings import Finding, StepFailed
from local.rehearsal.server import Account
from local.stack.template import TemplateError, load_template

TRANSLATE = Path(__file__).with_name("translate.py")
ARTIFACT_KEYS = ("CodeUri", "ContentUri", "DefinitionUri")  # as translate.py rewrites them
_SKIPPED_NAMES = {"__pycache__", ".pytest_cache"}


def local_artifacts(template: Mapping[str, Any]) -> set[str]:
    """The local paths the template's functions, layers and APIs are built from."""
    sections = [*(template.get("Globals") or {}).values()]
    sections += [r.get("Properties") or {} for r in template.get("Resources", {}).values()]
    return {value for properties in sections for key in ARTIFACT_KEYS
            if isinstance(value := properties.get(key), str) and not value.startswith("s3://")}


def _zip(path: Path) -> bytes:
    """A deterministic zip of a directory (or one file): sorted entries, fixed times."""
    buffer = io.BytesIO()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not _SKIPPED_NAMES & set(p.parts) and p.suffix != ".pyc")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            info = zipfile.ZipInfo(file.name if path.is_file() else str(file.relative_to(path)), (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def ensure_bucket(account: Account, bucket: str) -> None:
    s3 = account.client("s3")
    if bucket in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        return
    arguments: dict[str, Any] = {"Bucket": bucket}
    if account.region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": account.region}
    s3.create_bucket(**arguments)


def upload(account: Account, bucket: str, key: str, body: bytes) -> None:
    account.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def package(account: Account, template: Mapping[str, Any], code_root: Path, bucket: str, prefix: str) -> dict[str, str]:
    """Zip and upload every local artifact; return local path (as written) -> s3:// URI."""
    uris = {}
    for written in sorted(local_artifacts(template)):
        path = (code_root / written).resolve()
        if not path.exists():
            raise StepFailed("sam package", [Finding(written, f"{path} does not exist")])
        body = _zip(path)
        key = f"{prefix}/{hashlib.sha256(body).hexdigest()}.zip"
        upload(account, bucket, key, body)
        uris[written] = f"s3://{bucket}/{key}"
    return uris


def translate(translator: Path, template_path: Path, artifacts: Mapping[str, str], parameters: Mapping[str, str],
              region: str, out: Path) -> dict[str, Any]:
    """The SAM transform of `template_path` in the translator's virtualenv, after the
    AWS::LanguageExtensions transform (local.stack.template.load_template), in CloudFormation's
    order: the translator reads the expanded template, written beside `out`."""
    if not translator.exists():
        raise StepFailed("sam translate", [Finding(str(translator), "is missing: run `make tools`")])
    try:
        expanded = load_template(template_path)
    except TemplateError as error:
        raise StepFailed("sam translate", [Finding(template_path.name, str(error))]) from error
    expanded_path = out.with_name(f"{out.stem}.expanded.json")
    expanded_path.write_text(json.dumps(expanded), encoding="utf-8")
    env = {**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONPATH": ""}
    done = subprocess.run([str(translator), str(TRANSLATE), str(expanded_path), json.dumps(dict(artifacts)),
                           json.dumps(dict(parameters)), str(out)],
                          check=False, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    if done.returncode == 2:  # the translator's own messages, one per problem of the template
        raise StepFailed(
            "sam translate", [Finding(template_path.name, line) for line in done.stderr.strip().splitlines()]
        )
    if done.returncode != 0:
        raise StepFailed("sam translate", [Finding(str(TRANSLATE.name), (done.stderr or done.stdout).strip()[-2000:])])
    return json.loads(out.read_text(encoding="utf-8"))
