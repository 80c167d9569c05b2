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

from ._shared import NO_AMOUNT, Words, set_amount, set_currency
from ._wire_types import (
    INT64_MAX,
    INT64_MIN,
    Invalid,
    WireField,
    explain,
    optional_inner,
    secret_from_wire,
    to_camel,
    wire_fields,
)
from .common import CurrencyAmount, Secret

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
    "_Words": Words,
    "_NO_AMOUNT": NO_AMOUNT,
    "_CA": CurrencyAmount,
    "_new": object.__new__,
    "_set_currency": set_currency,
    "_set_amount": set_amount,
    "_CAUGHT": (Invalid, KeyError, TypeError, ValueError, AttributeError),
}
_USES_MEMO = "_uses_memo"
"""Set in a class's env when its expression shares values (`_shared.py`): it refers to the
page's words (`_w`) and to the amount decoded last (`_p`)."""
_MEMO = "_w = _Words()\n    _p = _NO_AMOUNT\n    "

_ENTRY = """\
def structure(o, _=None):
    {memo}try:
        if type(o) is dict:
            return _cls({args})
    except _CAUGHT as exc:
        _explain(_cls, o, exc)
        raise
    _explain(_cls, o, None)

def nested(o{params}):
    {last}return _cls({args})

def many(items):
    {memo}out = []
    append = out.append
    o = None
    try:
        for o in items:
            if type(o) is not dict:
                _invalid()
            append(_cls({args}))
    except _CAUGHT as exc:
        _explain(_cls, o, exc)
        raise
    return out
"""


@attrs.frozen
class _Made:
    """The functions generated for one class. `nested` takes the page's words (`_w`) from its
    caller when `uses_memo`; `many` decodes a list with one set of words and no call per
    item."""

    structure: _Hook
    nested: _Hook
    many: _Hook
    uses_memo: bool


class _StructureCodegen:
    """Generates, for each attrs class, `structure(o, _)`, the converter's hook; `nested(o)`,
    which the code generated for enclosing classes calls; and `many(items)`, which decodes a
    page. Each builds the instance in one expression that checks every value; `structure`
    and `many` check that `o` is a dict and have `explain` turn a failure into an error that
    names the field, once for the whole object (a non-dict given to `nested` fails on its
    first key read). Amounts and `shared_str` fields go through the page memo (`_shared.py`),
    made by `structure` and `many` and handed down to `nested`."""

    def __init__(self, conv: cattrs.Converter) -> None:
        self._conv = conv
        self._made: dict[type, _Made] = {}

    def hook(self, cls: type) -> _Hook:
        return self.functions(cls).structure

    def functions(self, cls: type) -> _Made:
        made = self._made.get(cls)
        if made is None:
            made = self._made[cls] = self._generate(cls)
        return made

    def _generate(self, cls: type) -> _Made:
        env: dict[str, Any] = dict(_ENV, _cls=cls)
        args: list[str] = []
        for field in wire_fields(cls):
            value = self._field_value(field, env)
            args.append(f"{field.name}={value}" if field.kw_only else value)
        uses_memo = bool(env.pop(_USES_MEMO, False))
        source = _ENTRY.format(
            args=", ".join(args),
            memo=_MEMO if uses_memo else "",
            params=", _w" if uses_memo else "",
            last="_p = _NO_AMOUNT\n    " if uses_memo else "",
        )
        code = compile(source, f"<weavr_async structure {cls.__name__}>", "exec")
        namespace: dict[str, Any] = {}
        exec(code, env, namespace)
        return _Made(namespace["structure"], namespace["nested"], namespace["many"], uses_memo)

    def _field_value(self, field: WireField, env: dict[str, Any]) -> str:
        """The expression giving a field's checked value from the JSON object `o`."""
        if field.required:
            if field.shared and field.tp is str:
                return _shared_word(f"o[{field.key!r}]", _name("v"), env)
            return self._convert(f"o[{field.key!r}]", field.tp, env)
        tmp = _name("v")
        read = f"({tmp} := o.get({field.key!r}))"
        if field.shared and field.tp is str:
            converted = _shared_word(tmp, tmp, env)
        else:
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
            return f"o.get({field.key!r})"  # Any: as sent, None when absent
        return f"({fallback} if {read} is None else {converted})"

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
            if field.shared and field.tp is str:
                env[_USES_MEMO] = True
                name = f"_w[{name}]"
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
            if tp is CurrencyAmount:
                return _shared_amount(first, tmp, env)
            inline = self._inlined(tp, first, tmp, env)
            if inline is not None:
                return inline
            made = self.functions(tp)
            fn = _name("structure")
            env[fn] = made.nested
            if made.uses_memo:
                env[_USES_MEMO] = True
                return f"{fn}({expr}, _w)"
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


def _shared_word(first: str, tmp: str, env: dict[str, Any]) -> str:
    """A `shared_str` field: checked to be a str, then the page's one object of that value."""
    env[_USES_MEMO] = True
    read = tmp if first == tmp else f"({tmp} := {first})"
    return f"(_w[{tmp}] if type({read}) is str else _invalid())"


def _shared_amount(first: str, tmp: str, env: dict[str, Any]) -> str:
    """A CurrencyAmount from the dict `first` (which binds `tmp`): the amount decoded just
    before (`_p`) when equal to it, else a new instance, which becomes `_p` (`_shared.py`).

    The comparison is with values that passed every check: an amount equal to a checked int
    that is itself an int is that int (`true` equals 1, hence the type check), and a JSON
    value equal to a str is a str. Anything else goes through the full check."""
    env[_USES_MEMO] = True
    amount, currency, made = _name("a"), _name("c"), _name("r")
    hit = (
        f"type({amount} := {first}['amount']) is int and {amount} == _p.amount "
        f"and {tmp}['currency'] == _p.currency"
    )
    check = (
        f"type({currency} := {tmp}['currency']) is str and type({amount}) is int "
        f"and {amount} <= {INT64_MAX} and {amount} >= {INT64_MIN}"
    )
    build = (
        f"(_p := (_set_amount({made} := _new(_CA), {amount}) "
        f"or _set_currency({made}, _w[{currency}]) or {made}))"
    )
    return f"(_p if {hit} else {build} if {check} else _invalid())"


def _name(prefix: str) -> str:
    return f"_{prefix}{next(_names)}"


def _make_converter() -> tuple[cattrs.Converter, _StructureCodegen]:
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
    return conv, codegen


converter, _codegen = _make_converter()


def structure(data: Any, cls: type[T]) -> T:
    return converter.structure(data, cls)


def structure_many(items: list[Any], cls: type[T]) -> list[T]:
    """Structure a page of items: for an attrs class, with its generated `many` (one memo of
    equal amounts and words for the page, no call per item)."""
    if attrs.has(cls):
        many: Callable[[list[Any]], list[T]] = _codegen.functions(cls).many
        return many(items)
    hook = converter.get_structure_hook(cls)
    return [hook(item, cls) for item in items]


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)
