"""checkov on infra/ (terraform) and template.yaml (cloudformation): zero failed checks.

checkov runs from its own virtualenv (`make tools`); a skip is only allowed inline, with its
reason beside it (#checkov:skip=... in infra/, Metadata.checkov.skip in template.yaml).
checkov passes over the resources of a Fn::ForEach loop without a word, so it reads template.yaml
as CloudFormation expands it (local.stack.template.load_template), written to a JSON file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from local.stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"


def _checkov(*args: str) -> list[dict]:
    assert CHECKOV.exists(), f"{CHECKOV.relative_to(ROOT)} is missing: run `make tools`"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run([str(CHECKOV), *args, "--skip-download", "--compact", "-o", "json"],
                            check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 1: failed checks, shown below
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def _failures(reports: list[dict]) -> list[str]:
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    return [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in failed]


def _skips_have_reasons(reports: list[dict]) -> None:
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) > 10, f"{check['check_id']} on {check['resource']} is skipped without a reason"


def _expanded_template(directory: Path) -> Path:
    """template.yaml, its loops expanded, as a JSON file in `directory`."""
    path = directory / "template.expanded.json"
    path.write_text(json.dumps(load_template(ROOT / "template.yaml")), encoding="utf-8")
    return path


@pytest.mark.parametrize("framework", ["terraform", "cloudformation"])
def test_no_failed_checks(framework: str, tmp_path: Path) -> None:
    target = ["-d", "infra"] if framework == "terraform" else ["-f", str(_expanded_template(tmp_path))]
    reports = _checkov(*target, "--framework", framework)
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 0, "checkov ran no check"
    assert _failures(reports) == []
    _skips_have_reasons(reports)
    if framework == "cloudformation":  # the functions of the loops too, not only those written out
        checked = {c["resource"] for r in reports for kind in ("passed_checks", "failed_checks", "skipped_checks")
                   for c in r.get("results", {}).get(kind, [])}
        functions = {f"{v['Type']}.{k}" for k, v in load_template(ROOT / "template.yaml")["Resources"].items()
                     if v["Type"] == "AWS::Serverless::Function"}
        assert functions <= checked
