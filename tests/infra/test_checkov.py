"""checkov on infra/ (terraform) and template.yaml (cloudformation): zero failed checks.

checkov runs from its own virtualenv (`make tools`); a skip is only allowed inline, with its
reason beside it (#checkov:skip=... in infra/, Metadata.checkov.skip in template.yaml).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"


def _checkov(*args: str) -> list[dict]:
    assert CHECKOV.exists(), f"{CHECKOV.relative_to(ROOT)} is missing: run `make tools`"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run([str(CHECKOV), *args, "--skip-download", "--compact", "-o", "json"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
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


@pytest.mark.parametrize(("target", "framework"), [
    (["-d", "infra"], "terraform"),
    (["-f", "template.yaml"], "cloudformation"),
])
def test_no_failed_checks(target: list[str], framework: str) -> None:
    reports = _checkov(*target, "--framework", framework)
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert passed > 0, "checkov ran no check"
    assert _failures(reports) == []
    _skips_have_reasons(reports)
