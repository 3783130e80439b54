"""Settings models filled from the environment: `SomeSettings.from_env()`.

A field `read_timeout` of a model whose `env_prefix` is `TAMTAM_VENTIS_` comes from the variable
`TAMTAM_VENTIS_READ_TIMEOUT`, its case ignored; a field with a string `validation_alias` comes
from the variable of that name, without the prefix. A list, dict or model field is read as JSON;
anything else is given to pydantic as the string it is (`"true"`, `"3.5"`, `"devices"`), and
pydantic validates and converts it. A variable that is not set leaves the field's default.

This is what the functions used pydantic-settings for. That package costs about 55 ms of import
at every cold start (its sources import asyncio, dotenv and typing inspection), for a loop over
os.environ.
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

_JSON_ORIGINS = (dict, list, set, frozenset, tuple, Mapping)


class SettingsError(ValueError):
    """A variable meant to hold JSON does not (the message names the variable, never its value)."""


def _is_json(annotation: Any) -> bool:
    """Whether a field of this type is given as JSON in the environment."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_json(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    if origin is typing.Annotated:
        return _is_json(typing.get_args(annotation)[0])
    target = origin or annotation
    if isinstance(target, type):
        return issubclass(target, _JSON_ORIGINS) or issubclass(target, BaseModel)
    return False


class EnvSettings(BaseModel):
    """Base of the settings models. Build one with `from_env()`; calling the class with keyword
    arguments gives a model of exactly those values (tests and explicit configuration)."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)
    env_prefix: ClassVar[str] = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The model from `environ` (os.environ by default)."""
        source = {key.upper(): value for key, value in (os.environ if environ is None else environ).items()}
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            variable = (alias or f"{cls.env_prefix}{name}").upper()
            if variable not in source:
                continue
            raw = source[variable]
            if _is_json(field.annotation):
                try:
                    values[alias or name] = json.loads(raw)
                except ValueError:
                    raise SettingsError(f"{variable} must be JSON") from None
            else:
                values[alias or name] = raw
        return cls.model_validate(values)
