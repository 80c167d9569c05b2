"""The one cattrs converter between the API's camelCase JSON and the snake_case models.

Decoding speed decides how fast a reconciliation job walks a statement, so structuring is
tuned with benchmarks/bench_models.py (figures there and in the README):

- cattrs' own generated functions, even without detailed validation, spend most of an
  entry's time in per-field dispatch (each optional nested amount goes through a union hook,
  then a class hook, then `str()`/`int()` on its leaves);
- so attrs classes are structured by functions this module generates into the same cattrs
  converter: one expression per class that builds nested classes inline and reads optional
  keys with `dict.get`. That is about twice as fast;
- every value is checked against its field's declared type inside that expression
  (`type(v) is int and -2**63 <= v <= 2**63 - 1`, ...; the rules are in `_wire_types.py`), so
  no model ever holds a string where an amount is due. A failed check only raises; the class's
  entry function then has `_wire_types.explain` find and name the culprit, off the fast path;
- unknown keys are ignored (the API may add fields) and enum-like fields are typed `str`, so a
  value this SDK does not know yet passes through instead of failing a walk.

Unstructuring (request bodies) uses cattrs' generated functions: camelCase keys, and fields
left as None are omitted.
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, NoReturn, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from ._wire_types import (
    INT64_MAX,
    INT64_MIN,
    Invalid,
    explain,
    optional_inner,
    secret_from_wire,
    to_camel,
    wire_fields,
)
from .common import Secret

__all__ = ["converter", "structure", "structure_many", "to_camel", "unstructure"]

T = TypeVar("T")
_names = itertools.count()
_Hook = Callable[..., Any]


def _invalid() -> NoReturn:
    raise Invalid


def _str_values(value: dict[str, Any]) -> bool:
    """Whether every value of a dict is a str (this loop is faster than all() or set()).
    The keys of a JSON object are always strings."""
    for v in value.values():  # noqa: SIM110 (measured: all() costs twice as much)
        if type(v) is not str:
            return False
    return True


# What every generated function may refer to.
_ENV: dict[str, Any] = {
    "_invalid": _invalid,
    "_explain": explain,
    "_isfinite": math.isfinite,
    "_str_values": _str_values,
    "_CAUGHT": (Invalid, KeyError, TypeError, ValueError, AttributeError),
}

_ENTRY = """\
def structure(o, _=None):
    try:
        if type(o) is dict:
            return _cls({args})
    except _CAUGHT as exc:
        _explain(_cls, o, exc)
        raise
    _explain(_cls, o, None)

def nested(o):
    return _cls({args})
"""


class _StructureCodegen:
    """Generates, for each attrs class, `structure(o, _)`, the converter's hook, and
    `nested(o)`, which the code generated for enclosing classes calls. Both build the instance
    in one expression that checks every value; only `structure` checks that `o` is a dict and
    has `explain` turn a failure into an error that names the field, once for the whole
    object (a non-dict given to `nested` fails on its first key read)."""

    def __init__(self, conv: cattrs.Converter) -> None:
        self._conv = conv
        self._made: dict[type, tuple[_Hook, _Hook]] = {}

    def hook(self, cls: type) -> _Hook:
        return self._functions(cls)[0]

    def _functions(self, cls: type) -> tuple[_Hook, _Hook]:
        made = self._made.get(cls)
        if made is None:
            made = self._made[cls] = self._generate(cls)
        return made

    def _generate(self, cls: type) -> tuple[_Hook, _Hook]:
        env: dict[str, Any] = dict(_ENV, _cls=cls)
        args: list[str] = []
        for field in wire_fields(cls):
            if field.required:
                value = self._convert(f"o[{field.key!r}]", field.tp, env)
            else:
                tmp = _name("v")
                read = f"({tmp} := o.get({field.key!r}))"
                converted = self._convert(tmp, field.tp, env)
                default = _name("default")
                if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                    env[default] = field.default.factory
                    fallback = f"{default}()"
                elif field.default is None:
                    fallback = "None"
                else:
                    env[default] = field.default
                    fallback = default
                if converted == tmp and field.default is None:
                    value = f"o.get({field.key!r})"  # Any: as sent, None when absent
                else:
                    value = f"({fallback} if {read} is None else {converted})"
            args.append(f"{field.name}={value}" if field.kw_only else value)
        source = _ENTRY.format(args=", ".join(args))
        code = compile(source, f"<weavr_async structure {cls.__name__}>", "exec")
        namespace: dict[str, Any] = {}
        exec(code, env, namespace)
        return namespace["structure"], namespace["nested"]

    @staticmethod
    def _inlined(tp: type, first: str, tmp: str, env: dict[str, Any]) -> str | None:
        """For a small class of plain values (CurrencyAmount, TransactionId, ScaledAmount,
        ...), an expression building it from the dict `first` in place: one call fewer per
        nested object, ~20% of a statement entry's decode. None for other classes."""
        fields = wire_fields(tp)
        if not fields or len(fields) > 4:
            return None
        args: list[str] = []
        checks: list[str] = []
        for field in fields:
            if field.default not in (attrs.NOTHING, None):
                return None
            name = _name("v")
            source = tmp if checks else first
            if field.required:
                check = _leaf_check(field.tp, f"({name} := {source}[{field.key!r}])", name, env)
            else:
                check = _leaf_check(field.tp, name, name, env)
                read = f"({name} := {source}.get({field.key!r}))"
                check = None if check is None else f"{read} is None or {check}"
            if check is None or check == "True":
                return None
            checks.append(f"({check})")
            args.append(f"{field.name}={name}" if field.kw_only else name)
        cls_name = _name("cls")
        env[cls_name] = tp
        return f"({cls_name}({', '.join(args)}) if {' and '.join(checks)} else _invalid())"

    def _convert(self, expr: str, tp: Any, env: dict[str, Any]) -> str:
        """An expression giving the checked value of `expr` for a field of type `tp`; it
        raises (`Invalid` mostly) when the value does not fit."""
        simple = expr.isidentifier()
        tmp = expr if simple else _name("v")
        first = expr if simple else f"({tmp} := {expr})"
        check = _leaf_check(tp, first, tmp, env)
        if check == "True":
            return expr
        if check is not None:
            return f"({tmp} if {check} else _invalid())"
        inner = optional_inner(tp)
        if inner is not None:
            return f"(None if {first} is None else {self._convert(tmp, inner, env)})"
        origin = typing.get_origin(tp)
        if origin is list:
            (item_tp,) = typing.get_args(tp)
            item = _name("i")
            converted = self._convert(item, item_tp, env)
            return f"([{converted} for {item} in {tmp}] if type({first}) is list else _invalid())"
        if (origin is dict or origin is Mapping) and typing.get_args(tp)[0] is str:
            key, item = _name("k"), _name("i")
            converted = self._convert(item, typing.get_args(tp)[1], env)
            return (
                f"({{{key}: {converted} for {key}, {item} in {tmp}.items()}} "
                f"if type({first}) is dict else _invalid())"
            )
        if attrs.has(tp):
            # No `type(v) is dict` here: reading a key of any other JSON value (None, a list,
            # a string, a number) raises TypeError, or AttributeError for `.get`, which the
            # entry function catches like a failed check (10 ns saved per nested object).
            if not attrs.fields(tp):
                empty = _name("cls")
                env[empty] = tp
                return f"({empty}() if type({first}) is dict else _invalid())"
            inline = self._inlined(tp, first, tmp, env)
            if inline is not None:
                return inline
            fn = _name("structure")
            env[fn] = self._functions(tp)[1]
            return f"{fn}({expr})"
        if tp is Secret:
            fn = _name("hook")
            env[fn] = self._conv.get_structure_hook(tp)
            return f"{fn}({expr})"
        raise TypeError(f"no wire rule for {tp!r}: add one to _converter.py and _wire_types.py")


def _leaf_check(  # noqa: C901 (one branch per kind of declared type: a dispatch)
    tp: Any, first: str, later: str, env: dict[str, Any]
) -> str | None:
    """A boolean expression saying whether a value fits `tp`, for types whose value is kept
    as decoded; "True" for `Any`; None for types that need building. `first` is how the
    expression first reads the value (it may bind `later`), `later` how it reads it again."""
    if tp is Any:
        return "True"
    if tp is str or tp is bool:
        return f"type({first}) is {tp.__name__}"
    if tp is int:
        # Two comparisons measure faster than the chained `a <= v <= b`.
        return f"type({first}) is int and {later} <= {INT64_MAX} and {later} >= {INT64_MIN}"
    if tp is float:
        return (
            f"(_isfinite({later}) if type({first}) is float "
            f"else type({later}) is int and {later} <= {INT64_MAX} and {later} >= {INT64_MIN})"
        )
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        values = _name("literals")
        if all(type(a) is str for a in allowed):
            env[values] = frozenset(allowed)
            return f"type({first}) is str and {later} in {values}"
        env[values] = frozenset((type(a), a) for a in allowed)
        return f"(type({first}), {later}) in {values}"
    inner = optional_inner(tp)
    if inner is not None:
        check = _leaf_check(inner, later, later, env)
        if check is None or check == "True":
            return check
        return f"({first} is None or {check})"
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        item = _name("i")
        check = _leaf_check(item_tp, item, item, env)
        if check is None:
            return None
        if check == "True":
            return f"type({first}) is list"
        return f"type({first}) is list and all({check} for {item} in {later})"
    if origin is dict or origin is Mapping:
        key_tp, value_tp = typing.get_args(tp)
        if key_tp is not str:
            return None
        if value_tp is Any:
            return f"type({first}) is dict"
        if value_tp is str:
            return f"type({first}) is dict and _str_values({later})"
        check = _leaf_check(value_tp, item := _name("i"), item, env)
        if check is None or check == "True":
            return None
        return f"type({first}) is dict and all({check} for {item} in {later}.values())"
    return None


def _name(prefix: str) -> str:
    return f"_{prefix}{next(_names)}"


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)
    codegen = _StructureCodegen(conv)

    def unstructure_factory(cls: type) -> Any:
        overrides = {
            f.name: override(rename=to_camel(f.name), omit_if_default=f.default is None)
            for f in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    conv.register_structure_hook_factory(attrs.has, codegen.hook)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    conv.register_structure_hook(Secret, secret_from_wire)
    return conv


converter = _make_converter()


def structure(data: Any, cls: type[T]) -> T:
    return converter.structure(data, cls)


def structure_many(items: list[Any], cls: type[T]) -> list[T]:
    """Structure a page of items with one hook lookup."""
    hook = converter.get_structure_hook(cls)
    return [hook(item, cls) for item in items]


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)
