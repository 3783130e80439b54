"""tamtam.env_settings: the settings models read the environment the way the deployment writes it
(template.yaml Globals, the local stack, the chaos plan)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import ClassVar, Literal

import pytest
from pydantic import Field, ValidationError

from tamtam.env_settings import EnvSettings, SettingsError

REPO_ROOT = Path(__file__).resolve().parents[2]


class Example(EnvSettings):
    env_prefix: ClassVar[str] = "EXAMPLE_"

    read_timeout: float = 10.0
    enabled: bool = True
    mode: Literal["devices", "credits"] | None = None
    priority: int | None = None
    keywords: list[str] = Field(default_factory=lambda: ["STOP"])
    urls: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, int] = Field(default_factory=dict, validation_alias="PROVIDER_RATE_LIMITS")


def test_given_no_variable_then_every_field_keeps_its_default():
    settings = Example.from_env({"UNRELATED": "1", "READ_TIMEOUT": "3"})  # no prefix: not ours

    assert settings == Example()
    assert settings.keywords == ["STOP"]


def test_given_prefixed_variables_in_any_case_then_they_are_converted_to_the_field_types():
    settings = Example.from_env({
        "EXAMPLE_READ_TIMEOUT": "2.5", "example_enabled": "false", "Example_Mode": "credits", "EXAMPLE_PRIORITY": "1",
    })

    assert (settings.read_timeout, settings.enabled, settings.mode, settings.priority) == (2.5, False, "credits", 1)


def test_given_lists_and_dicts_then_they_are_read_as_json():
    settings = Example.from_env({"EXAMPLE_KEYWORDS": '["STOP", "ARRET"]', "EXAMPLE_URLS": '{"a": "https://x"}'})

    assert settings.keywords == ["STOP", "ARRET"]
    assert settings.urls == {"a": "https://x"}


def test_given_a_field_with_an_alias_then_the_variable_is_the_alias_without_the_prefix():
    settings = Example.from_env({"PROVIDER_RATE_LIMITS": '{"passeinfo": 50}', "EXAMPLE_LIMITS": '{"ventis": 1}'})

    assert settings.limits == {"passeinfo": 50}
    assert Example(limits={"ventis": 2}).limits == {"ventis": 2}  # by name, in code


def test_given_a_variable_that_is_not_json_then_the_error_names_it_but_not_its_value():
    with pytest.raises(SettingsError) as caught:
        Example.from_env({"EXAMPLE_URLS": "secret-looking-value"})

    assert "EXAMPLE_URLS" in str(caught.value)
    assert "secret-looking-value" not in str(caught.value)


def test_given_a_value_outside_the_field_type_then_validation_refuses_it():
    with pytest.raises(ValidationError):
        Example.from_env({"EXAMPLE_MODE": "pigeons"})
    with pytest.raises(ValidationError):
        Example.from_env({"EXAMPLE_READ_TIMEOUT": "soon"})


def test_given_a_required_field_missing_then_validation_refuses_the_settings():
    from tamtam.settings import Settings

    with pytest.raises(ValidationError):
        Settings.from_env({})
    assert Settings.from_env({"TABLE_NAME": "t", "QUEUE_URLS": '{"fanout": "u"}'}).queue_urls == {"fanout": "u"}


def test_given_every_function_module_then_pydantic_settings_is_never_imported():
    """The reason this module exists: pydantic-settings costs ~55 ms of every cold start."""
    code = (
        "import sys, tamtam.settings, tamtam.pacing.slots, tamtam.callbacks.settings, tamtam.otp.settings, "
        "tamtam.providers.passeinfo, tamtam.providers.smsgate, tamtam.providers.ventis, tamtam.providers.flowsms, "
        "tamtam.providers.messagepro, functions.ingest.door; "
        "sys.exit(1 if 'pydantic_settings' in sys.modules else 0)"
    )
    env = {"PYTHONPATH": f"{REPO_ROOT / 'layers' / 'shared'}:{REPO_ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_given_breaker_variables_set_after_import_then_the_breaker_reads_them(monkeypatch):
    from tamtam import health

    monkeypatch.setenv("BREAKER_MIN_FAILURES", "3")
    monkeypatch.setenv("BREAKER_OPEN_SECONDS", "10")
    health.reset_cache()
    try:
        settings = health.breaker_settings()
    finally:
        monkeypatch.undo()
        health.reset_cache()

    assert (settings.min_calls, settings.open_seconds, settings.failure_ratio) == (3, 10, 0.5)
    assert health.breaker_settings().min_calls == 5
