"""infra/: terraform fmt -check, init against the local provider mirror, validate.

The only allowed skip: no terraform binary on this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TERRAFORM = shutil.which("terraform")
PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="skipped: no terraform")


def _terraform(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    return subprocess.run([TERRAFORM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_fmt_check() -> None:
    result = _terraform("fmt", "-check", "-recursive", "-diff", cwd=INFRA)
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_and_validate(tmp_path: Path) -> None:
    # A copy keeps .terraform/ and the lock file out of the working tree.
    for source in INFRA.glob("*.tf"):
        shutil.copy(source, tmp_path / source.name)
    init = _terraform("init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}", cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = _terraform("validate", "-no-color", cwd=tmp_path)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "The configuration is valid" in validate.stdout
