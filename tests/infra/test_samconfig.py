"""samconfig.toml: every environment `sam deploy --config-env <env>` knows deploys the template
against the SSM parameters infra/ writes for that environment, under the stack name the
tools (local/tenant.py) look for."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from local.stack.template import SSM_PARAMETER_TYPE, load_template

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
PARAMETERS = load_template(ROOT / "template.yaml")["Parameters"]
ENVIRONMENTS = sorted(env for env, commands in CONFIG.items() if env != "version" and "deploy" in commands)
DEFAULT_PREFIX = f"/{PARAMETERS['Name']['Default']}/{PARAMETERS['Environment']['Default']}/"


def _deploy(env: str) -> dict:
    return CONFIG[env]["deploy"]["parameters"]


def _overrides(env: str) -> dict[str, str]:
    raw = _deploy(env)["parameter_overrides"]
    pairs = raw if isinstance(raw, list) else raw.split()
    return dict(pair.split("=", 1) for pair in pairs)


def test_dev_and_prod_are_configured() -> None:
    assert {"dev", "prod"} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_deploys_its_own_stack_with_the_needed_capabilities(env: str) -> None:
    deploy, overrides = _deploy(env), _overrides(env)
    assert overrides["Environment"] == env
    assert deploy["stack_name"] == f"{overrides['Name']}-{env}"
    assert "CAPABILITY_IAM" in deploy["capabilities"].split()
    assert deploy["resolve_s3"] is True
    assert deploy["region"]
    assert set(overrides) <= set(PARAMETERS), f"unknown parameters: {set(overrides) - set(PARAMETERS)}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_ssm_parameter_reads_the_environment_s_own_path(env: str) -> None:
    overrides = _overrides(env)
    prefix = f"/{overrides['Name']}/{env}/"
    for name, spec in PARAMETERS.items():
        if spec["Type"] != SSM_PARAMETER_TYPE:
            continue
        path = overrides.get(name, spec["Default"])
        assert path == prefix + spec["Default"][len(DEFAULT_PREFIX):], f"{env}: {name} reads {path}"
