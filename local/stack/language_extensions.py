"""The AWS::LanguageExtensions transform of template.yaml, as CloudFormation runs it before the SAM
transform: every `Fn::ForEach::<Loop>` written out, so that whatever reads the template here (the
local stack, the deploy rehearsal, the tests, bench, local.openapi) sees the resources CloudFormation
creates, under the same logical ids.

    Fn::ForEach::<Loop>: [Identifier, [Value, ...], {"Key${Identifier}": Fragment}]

(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html)
For each value, in order: `${Identifier}` is replaced by the value and `&{Identifier}` by the value
without its non-alphanumeric characters, in every key and string of the fragment, and
`{"Ref": Identifier}` by the value; loops nested in the fragment are then written out the same way.
Every key the loop writes must hold the identifier, and may not be written twice.

In what a loop writes, what the transform can now resolve is resolved, as CloudFormation does:
`Fn::FindInMap` whose three keys are strings (with its `DefaultValue` when the mapping has no such
entry), the variables of a long-form `Fn::Sub` that are plain strings (a `Fn::Sub` left without
variables becomes its string), `Ref` and `Fn::GetAtt` of such a `Fn::Sub`. References to
parameters and resources are left for the stack to resolve.

`expand` refuses (LanguageExtensionError) what it does not reproduce rather than guessing: a loop
whose collection is not a list of strings, an identifier that is also a parameter, a loop outside
Conditions / Resources / Outputs, a loop without the transform, `Fn::Length`, `Fn::ToJsonString`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

TRANSFORM = "AWS::LanguageExtensions"
FOREACH = "Fn::ForEach::"
SECTIONS = ("Conditions", "Resources", "Outputs")  # where CloudFormation allows Fn::ForEach
UNSUPPORTED = ("Fn::Length", "Fn::ToJsonString")
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")  # ${Name}; ${!Name} is a literal "${Name}"


class LanguageExtensionError(ValueError):
    """template.yaml uses the language extensions in a way this expansion does not reproduce."""


def uses_language_extensions(template: Mapping[str, Any]) -> bool:
    """True when the template declares the AWS::LanguageExtensions transform."""
    return TRANSFORM in _transforms(template)


def expand(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template as the next transform (SAM) receives it: a deep copy with every Fn::ForEach
    written out in place (the keys a loop writes take its position, in collection order) and
    AWS::LanguageExtensions removed from `Transform` (a single transform left is written as a
    string, as template.yaml wrote it before it had loops). A template without the transform is
    returned as a copy, unchanged, after checking that it has no loop."""
    expanded = copy.deepcopy(dict(template))
    if not uses_language_extensions(expanded):
        for where in _loops(expanded, ()):
            raise LanguageExtensionError(f"{where}: Fn::ForEach needs the {TRANSFORM} transform")
        return expanded
    rest = [t for t in _transforms(expanded) if t != TRANSFORM]
    if rest:
        expanded["Transform"] = rest[0] if len(rest) == 1 else rest
    else:
        del expanded["Transform"]
    for section, value in expanded.items():
        if section not in SECTIONS:
            for where in _loops(value, (section,)):
                raise LanguageExtensionError(f"{where}: Fn::ForEach is only allowed in {', '.join(SECTIONS)}")
    _refuse_unsupported(expanded, ())
    expansion = _Expansion(expanded.get("Mappings") or {}, set(expanded.get("Parameters") or {}))
    for section in SECTIONS:
        if section in expanded:
            expanded[section] = expansion.walk(expanded[section], (section,), ())
    return expanded


def resolve(node: Any, mappings: Mapping[str, Any]) -> Any:
    """`node`, a part of what a loop wrote, with what the transform resolves there resolved
    (Fn::FindInMap in `mappings`, Fn::Sub, Ref and Fn::GetAtt of a Fn::Sub: module docstring)."""
    return _Expansion(mappings, set()).resolve(copy.deepcopy(node), ())


def _transforms(template: Mapping[str, Any]) -> list[Any]:
    declared = template.get("Transform")
    return [] if declared is None else list(declared) if isinstance(declared, list) else [declared]


def _loops(node: Any, path: tuple[str, ...]) -> list[str]:
    """Where Fn::ForEach keys are under `node` ("Section.Key...")."""
    if isinstance(node, dict):
        return [found for key, value in node.items()
                for found in ([".".join((*path, key))] if key.startswith(FOREACH) else _loops(value, (*path, key)))]
    if isinstance(node, list):
        return [found for i, item in enumerate(node) for found in _loops(item, (*path, str(i)))]
    return []


def _refuse_unsupported(node: Any, path: tuple[str, ...]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in UNSUPPORTED:
                raise LanguageExtensionError(f"{'.'.join(path)}: {key} is not reproduced locally")
            _refuse_unsupported(value, (*path, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_unsupported(item, (*path, str(i)))


class _Expansion:
    def __init__(self, mappings: Mapping[str, Any], parameters: set[str]) -> None:
        self.mappings = mappings
        self.parameters = parameters

    def walk(self, node: Any, path: tuple[str, ...], identifiers: tuple[str, ...]) -> Any:
        """`node` with the loops under it written out."""
        if isinstance(node, list):
            return [self.walk(item, (*path, str(i)), identifiers) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        result: dict[str, Any] = {}
        for key, value in node.items():
            where = (*path, key)
            if not key.startswith(FOREACH):
                if key in result:
                    raise LanguageExtensionError(f"{'.'.join(where)}: {key} is also written by a loop")
                result[key] = self.walk(value, where, identifiers)
                continue
            for new_key, new_value in self.loop(key, value, where, identifiers).items():
                if new_key in result or new_key in node:
                    raise LanguageExtensionError(f"{'.'.join(where)}: {new_key} is written twice")
                result[new_key] = new_value
        return result

    def loop(self, key: str, value: Any, where: tuple[str, ...], identifiers: tuple[str, ...]) -> dict[str, Any]:
        """What `Fn::ForEach::<Loop>: value` writes."""
        name = ".".join(where)
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and value[0]
                and isinstance(value[2], dict)):
            raise LanguageExtensionError(f"{name}: expected [Identifier, [Value, ...], {{OutputKey: OutputValue}}]")
        identifier, collection, fragment = value
        if identifier in self.parameters or identifier in identifiers:
            raise LanguageExtensionError(
                f"{name}: the identifier {identifier} is already a parameter or an outer identifier"
            )
        if not isinstance(collection, list) or not all(isinstance(v, str) for v in collection):
            raise LanguageExtensionError(f"{name}: the collection must be a list of strings (a Ref to a "
                                         f"CommaDelimitedList is not reproduced locally)")
        placeholders = (f"${{{identifier}}}", f"&{{{identifier}}}")
        for output_key in fragment:
            if not output_key.startswith(FOREACH) and not any(p in output_key for p in placeholders):
                raise LanguageExtensionError(f"{name}: the key {output_key} does not hold ${{{identifier}}}")
        written: dict[str, Any] = {}
        for item in collection:
            replaced = _substitute(copy.deepcopy(fragment), identifier, item)
            for output_key, output in self.walk(replaced, where, (*identifiers, identifier)).items():
                if output_key in written:
                    raise LanguageExtensionError(f"{name}: {output_key} is written twice")
                written[output_key] = self.resolve(output, where)
        return written

    def resolve(self, node: Any, where: tuple[str, ...]) -> Any:
        """`node` with what the transform resolves in a loop's output resolved (module docstring)."""
        if isinstance(node, list):
            return [self.resolve(item, where) for item in node]
        if not isinstance(node, dict):
            return node
        resolved = {key: self.resolve(value, where) for key, value in node.items()}
        if len(resolved) != 1:
            return resolved
        [(function, argument)] = resolved.items()
        if function == "Fn::FindInMap":
            return self.find_in_map(argument, where)
        if function == "Fn::Sub":
            return _sub(argument)
        return resolved

    def find_in_map(self, argument: Any, where: tuple[str, ...]) -> Any:
        if not (
            isinstance(argument, list) and len(argument) in (3, 4) and all(isinstance(a, str) for a in argument[:3])
        ):
            return {"Fn::FindInMap": argument}  # keys CloudFormation resolves at deploy time
        mapping, top, second = argument[:3]
        entry = ((self.mappings.get(mapping) or {}).get(top) or {}).get(second)
        if entry is not None:
            return copy.deepcopy(entry)
        default = argument[3] if len(argument) == 4 else None
        if isinstance(default, dict) and set(default) == {"DefaultValue"}:
            return copy.deepcopy(default["DefaultValue"])
        raise LanguageExtensionError(f"{'.'.join(where)}: Mappings.{mapping}.{top}.{second} does not exist")


def _substitute(node: Any, identifier: str, value: str) -> Any:
    """`node` with the loop's identifier replaced by `value` (module docstring)."""
    if isinstance(node, str):
        return node.replace(f"${{{identifier}}}", value).replace(
            f"&{{{identifier}}}", re.sub(r"[^0-9A-Za-z]", "", value)
        )
    if isinstance(node, list):
        return [_substitute(item, identifier, value) for item in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return value
        return {_substitute(k, identifier, value): _substitute(v, identifier, value) for k, v in node.items()}
    return node


def _sub(argument: Any) -> Any:
    """A Fn::Sub with its plain-string variables written in; its string when none is left."""
    text, variables = (
        (argument, {})
        if isinstance(argument, str)
        else (
            argument
            if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict)
            else (None, None)
        )
    )
    if not isinstance(text, str) or variables is None:
        return {"Fn::Sub": argument}
    literal = {k: v for k, v in variables.items() if isinstance(v, str)}
    text = _SUB_VARIABLE.sub(lambda m: literal.get(m.group(1), m.group(0)), text)
    left = {k: v for k, v in variables.items() if k not in literal}
    if left:
        return {"Fn::Sub": [text, left]}
    if _SUB_VARIABLE.search(text):
        return {"Fn::Sub": text}
    return text.replace("${!", "${")
