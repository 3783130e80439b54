"""Read infra/*.tf and evaluate the small subset of HCL it is written in.

python-hcl2 (8.x) turns each file into blocks and attributes, with every expression kept as its
HCL text ("${...}"). Those texts are parsed again with python-hcl2's own grammar and evaluated
here. The subset: literals, strings with interpolation, tuples, objects, `var.`/`local.`/`each.`
/`data.` and resource references with `.attr` and `[key]`, for-expressions (with `if`),
arithmetic, comparisons, conditionals and a few functions (FUNCTIONS). Anything else raises
HclError naming the expression: nothing is skipped in silence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.api import parses_to_tree
from hcl2.utils import SerializationOptions
from lark import Token, Tree
from lark.exceptions import LarkError

_OPTIONS = SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=False)
_TOP_LEVEL = {"terraform", "variable", "locals", "resource", "data", "output"}


class HclError(Exception):
    """An expression or block outside the subset this evaluator understands."""


@dataclass(frozen=True)
class Block:
    """A `resource` or `data` block: its type, name, attributes (raw) and source file."""

    type: str
    name: str
    body: dict[str, Any]
    file: str

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class Config:
    """The blocks of one Terraform directory, expressions not yet evaluated."""

    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: list[Block] = field(default_factory=list)
    data: list[Block] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_config(directory: Path) -> Config:
    """Parse every *.tf file of `directory` (sorted by name) into one Config."""
    config = Config()
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise HclError(f"no *.tf file in {directory}")
    for path in files:
        document = hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=_OPTIONS)
        for kind, entries in document.items():
            if kind not in _TOP_LEVEL:
                raise HclError(f"{path.name}: top-level block {kind!r} is not supported by the local stack")
            for entry in entries:
                _add_block(config, kind, entry, path.name)
    return config


def _add_block(config: Config, kind: str, entry: dict[str, Any], file: str) -> None:
    if kind == "variable":
        config.variables.update(entry)
    elif kind == "locals":
        for name, value in entry.items():
            if name in config.locals:
                raise HclError(f"{file}: local.{name} is defined twice")
            config.locals[name] = value
    elif kind == "output":
        config.outputs.update(entry)
    elif kind in ("resource", "data"):
        target = config.resources if kind == "resource" else config.data
        for type_, named in entry.items():
            for name, body in named.items():
                target.append(Block(type_, name, body, file))


# ---------------------------------------------------------------------------------------------
# Values that stand for a namespace (var, local, data, a resource type) until an attribute is read
# ---------------------------------------------------------------------------------------------


class Namespace:
    """`var`, `local`, `data`, `data.<type>` or a resource type: resolves `.name` lazily."""

    def __init__(self, label: str, lookup: Callable[[str], Any]) -> None:
        self.label = label
        self._lookup = lookup

    def attr(self, name: str) -> Any:
        return self._lookup(name)


@dataclass
class Scope:
    """What names mean while one expression is evaluated.

    variables: input variable values; local/resource/data: callbacks that evaluate (and, for
    resources, create) on first use; each: (key, value) inside a for_each block.
    """

    variables: Mapping[str, Any]
    local: Callable[[str], Any]
    resource: Callable[[str, str], Any]
    data: Callable[[str, str], Any]
    each: tuple[Any, Any] | None = None
    names: dict[str, Any] = field(default_factory=dict)

    def with_names(self, names: dict[str, Any]) -> Scope:
        return Scope(self.variables, self.local, self.resource, self.data, self.each, {**self.names, **names})

    def with_each(self, key: Any, value: Any) -> Scope:
        return Scope(self.variables, self.local, self.resource, self.data, (key, value), dict(self.names))

    def root(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        if name == "var":
            return Namespace("var", self._variable)
        if name == "local":
            return Namespace("local", self.local)
        if name == "each":
            if self.each is None:
                raise HclError("each.* used outside a for_each block")
            key, value = self.each
            return {"key": key, "value": value}
        if name == "data":
            return Namespace("data", lambda type_: Namespace(f"data.{type_}", lambda n: self.data(type_, n)))
        if re.fullmatch(r"aws_[a-z0-9_]+", name):
            return Namespace(name, lambda n: self.resource(name, n))
        raise HclError(f"unknown name {name!r}")

    def _variable(self, name: str) -> Any:
        if name not in self.variables:
            raise HclError(f"var.{name} is not declared")
        return self.variables[name]


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def evaluate(value: Any, scope: Scope) -> Any:
    """Evaluate a raw value from python-hcl2 (nested dicts/lists, "${...}" strings)."""
    if isinstance(value, str):
        return _evaluate_string(value, scope)
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    if isinstance(value, dict):
        return {str(evaluate(key, scope)): evaluate(item, scope) for key, item in value.items()}
    return value


def _evaluate_string(text: str, scope: Scope) -> Any:
    if "${" not in text and "%{" not in text:
        return text
    try:
        tree = parses_to_tree(f'v = "{text}"\n')
    except LarkError as error:
        raise HclError(f"cannot parse {text!r}: {error}") from error
    attribute = next(tree.find_data("attribute"))
    return _Evaluator(scope, text).run(attribute.children[-1])


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: a % b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "&&": lambda a, b: bool(a) and bool(b),
    "||": lambda a, b: bool(a) or bool(b),
}


def _jsonencode(value: Any) -> str:
    # Terraform's jsonencode: compact, object keys in lexical order.
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in maps:
        if not isinstance(item, dict):
            raise HclError(f"merge() takes maps, got {item!r}")
        merged.update(item)
    return merged


def _toset(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise HclError(f"toset() takes a list, got {items!r}")
    return sorted(set(items), key=str)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jsonencode": _jsonencode,
    "merge": _merge,
    "toset": _toset,
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
    "length": len,
    "concat": lambda *lists: [item for items in lists for item in items],
    "lower": str.lower,
    "upper": str.upper,
}

_SKIP = {"new_line_or_comment"}


def _children(tree: Tree) -> list[Any]:
    """The meaningful children: no newlines/comments, no punctuation tokens."""
    return [c for c in tree.children if not (isinstance(c, Tree) and c.data in _SKIP) and not isinstance(c, Token)]


class _Evaluator:
    def __init__(self, scope: Scope, source: str) -> None:
        self.scope = scope
        self.source = source

    def fail(self, message: str) -> HclError:
        return HclError(f"{message} in {self.source!r}")

    def run(self, node: Any) -> Any:
        if isinstance(node, Token):
            raise self.fail(f"unexpected token {node!r}")
        method = getattr(self, f"_{node.data}", None)
        if method is None:
            raise self.fail(f"expression {node.data!r} is not supported by the local stack")
        return method(node)

    # -- terms --------------------------------------------------------------------------------
    def _expr_term(self, node: Tree) -> Any:
        (inner,) = _children(node)
        return self.run(inner)

    def _int_lit(self, node: Tree) -> int:
        return int(node.children[0])

    def _float_lit(self, node: Tree) -> float:
        return float(node.children[0])

    def _literal_value(self, node: Tree) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _identifier(self, node: Tree) -> Any:
        return self.scope.root(str(node.children[0]))

    def _string(self, node: Tree) -> Any:
        parts = [self._string_part(p) for p in node.children if isinstance(p, Tree)]
        if len(parts) == 1 and parts[0][0] == "interpolation":
            return parts[0][1]  # "${x}" alone keeps the value's type, as in Terraform
        return "".join(_to_string(value, self) for _, value in parts)

    def _string_part(self, node: Tree) -> tuple[str, Any]:
        (child,) = node.children
        if isinstance(child, Token):
            if child.type == "STRING_CHARS":
                return "text", _unescape(str(child))
            if child.type == "ESCAPED_INTERPOLATION":
                return "text", str(child)[1:]
            raise self.fail(f"template directive {child!s} is not supported")
        if child.data == "interpolation":
            (expression,) = _children(child)
            return "interpolation", self.run(expression)
        raise self.fail(f"template directive {child.data!r} is not supported")

    def _tuple(self, node: Tree) -> list[Any]:
        return [self.run(c) for c in _children(node)]

    def _object(self, node: Tree) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for element in _children(node):
            key_node, value_node = _children(element)
            result[self._object_key(key_node)] = self.run(value_node)
        return result

    def _object_key(self, node: Tree) -> str:
        (inner,) = _children(node)
        if isinstance(inner, Tree) and inner.data == "keyword":
            return str(inner.children[0])
        if isinstance(inner, Tree) and inner.data == "expr_term":
            (term,) = _children(inner)
            if isinstance(term, Tree) and term.data == "identifier":
                return str(term.children[0])  # a bare name is a literal key
        key = self.run(inner)
        if not isinstance(key, str):
            raise self.fail(f"object key {key!r} is not a string")
        return key

    # -- traversals ---------------------------------------------------------------------------
    def _get_attr_expr_term(self, node: Tree) -> Any:
        target, get_attr = _children(node)
        (name,) = _children(get_attr)
        return self._attribute(self.run(target), str(name.children[0]))

    def _attribute(self, value: Any, name: str) -> Any:
        if isinstance(value, Namespace):
            return value.attr(name)
        if isinstance(value, dict):
            if name not in value:
                raise self.fail(f"no attribute {name!r} (known: {sorted(value)})")
            return value[name]
        raise self.fail(f"cannot read attribute {name!r} of {value!r}")

    def _index_expr_term(self, node: Tree) -> Any:
        target, index = _children(node)
        collection = self.run(target)
        if index.data == "short_index":
            key: Any = int(index.children[-1])
        else:
            (expression,) = _children(index)
            key = self.run(expression)
        try:
            return collection[key]
        except (KeyError, IndexError, TypeError) as error:
            raise self.fail(f"no element {key!r}") from error

    # -- operations ---------------------------------------------------------------------------
    def _binary_op(self, node: Tree) -> Any:
        left, term = _children(node)
        operator_node, right = _children(term)
        operator = str(operator_node.children[0])
        return _BINARY[operator](self.run(left), self.run(right))

    def _unary_op(self, node: Tree) -> Any:
        operator, operand = node.children
        value = self.run(operand)
        return -value if str(operator) == "-" else not value

    def _conditional(self, node: Tree) -> Any:
        condition, when_true, when_false = _children(node)
        return self.run(when_true) if self.run(condition) else self.run(when_false)

    def _function_call(self, node: Tree) -> Any:
        parts = _children(node)
        name = str(parts[0].children[0])
        if len(parts) > 2:
            raise self.fail(f"provider function {name!r} is not supported")
        if name not in FUNCTIONS:
            raise self.fail(f"function {name}() is not supported by the local stack")
        arguments = [self.run(a) for a in _children(parts[1])] if len(parts) == 2 else []
        return FUNCTIONS[name](*arguments)

    # -- for expressions ----------------------------------------------------------------------
    def _for_tuple_expr(self, node: Tree) -> list[Any]:
        intro, body, *condition = _children(node)
        return [self.with_scope(scope).run(body) for scope in self._iterations(intro, condition)]

    def _for_object_expr(self, node: Tree) -> dict[str, Any]:
        intro, key, value, *condition = _children(node)
        if any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children):
            raise self.fail("grouping (...) in a for expression is not supported")
        result: dict[str, Any] = {}
        for scope in self._iterations(intro, condition):
            evaluator = self.with_scope(scope)
            name = evaluator.run(key)
            if name in result:
                raise self.fail(f"duplicate key {name!r}")
            result[name] = evaluator.run(value)
        return result

    def _iterations(self, intro: Tree, condition: list[Tree]) -> list[Scope]:
        *names, collection = _children(intro)
        items = self.run(collection)
        if isinstance(items, dict):
            pairs = [(k, items[k]) for k in sorted(items)]
        elif isinstance(items, list):
            pairs = list(enumerate(items))
        else:
            raise self.fail(f"cannot iterate over {items!r}")
        scopes = []
        for key, value in pairs:
            bound = {str(names[0].children[0]): value} if len(names) == 1 else {
                str(names[0].children[0]): key, str(names[1].children[0]): value}
            scope = self.scope.with_names(bound)
            if condition and not self.with_scope(scope).run(_children(condition[0])[0]):
                continue
            scopes.append(scope)
        return scopes

    def with_scope(self, scope: Scope) -> _Evaluator:
        return _Evaluator(scope, self.source)


def _to_string(value: Any, evaluator: _Evaluator) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise evaluator.fail(f"cannot interpolate {value!r} into a string")


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)
