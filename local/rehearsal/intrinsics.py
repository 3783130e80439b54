"""CloudFormation's intrinsic functions, resolved against a created stack, for the resources the
rehearsal creates through the API because moto's CloudFormation skips them.

Ref (parameters with their resolved values, resources with their physical ids, pseudo
parameters), Fn::GetAtt (through a callback), Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If
and the condition functions. Anything else raises Unresolvable naming it: nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class Unresolvable(Exception):
    """An intrinsic the rehearsal cannot resolve against the emulated stack."""


_NO_VALUE = object()  # Ref AWS::NoValue: the property (or list item) is left out


@dataclass
class StackValues:
    """What a template's intrinsics may refer to once the stack exists."""

    parameters: Mapping[str, Any]  # name -> value as the stack resolved it (SSM ones included)
    physical_ids: Mapping[str, str]  # logical id -> physical id
    pseudo: Mapping[str, str]  # AWS::Region, AWS::AccountId...
    conditions: Mapping[str, Any]  # the template's Conditions section
    get_att: Callable[[str, str], Any]  # (logical id, attribute) -> value

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(item) for item in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Condition":
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise Unresolvable(f"Ref {name}: neither a parameter nor a resource of the stack")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise Unresolvable(f"condition {name} is not declared")
        return bool(self.resolve(self.conditions[name]))

    def _function(self, key: str, argument: Any) -> Any:
        handlers: dict[str, Callable[[Any], Any]] = {
            "Fn::GetAtt": self._get_att, "Fn::Sub": self._sub, "Fn::Join": self._join,
            "Fn::Select": self._select, "Fn::Split": self._split, "Fn::If": self._if,
            "Fn::Equals": lambda a: self.resolve(a[0]) == self.resolve(a[1]),
            "Fn::Not": lambda a: not self.resolve(a[0]),
            "Fn::And": lambda a: all(self.resolve(x) for x in a),
            "Fn::Or": lambda a: any(self.resolve(x) for x in a),
        }
        if key not in handlers:
            raise Unresolvable(f"{key} is not resolved by the rehearsal")
        return handlers[key](argument)

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        return self.get_att(logical_id, self.resolve(attribute))

    def _sub(self, argument: Any) -> str:
        template, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and name.split(".", 1)[0] not in self.pseudo:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, template)

    def _join(self, argument: Any) -> str:
        separator, items = argument
        return str(separator).join(str(item) for item in self.resolve(items))

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self.resolve(text)).split(separator)

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)
