"""The one cattrs converter between the API's camelCase JSON and the snake_case models.

Decoding speed decides how fast a reconciliation job walks a statement, so structuring is
tuned with benchmarks/bench_models.py (figures there and in the README):

- cattrs' own generated functions, even without detailed validation, spend most of an
  entry's time in per-field dispatch (each optional nested amount goes through a union hook,
  then a class hook, then `str()`/`int()` on its leaves);
- so attrs classes are structured by functions this module generates into the same cattrs
  converter: one expression per class that builds nested classes inline, reads optional keys
  with `dict.get`, and takes JSON strings, numbers and booleans as they are (the wire types
  are the contract's; the conformance tests check them). That is about twice as fast;
- unknown keys are ignored (the API may add fields) and enum-like fields are typed `str`, so a
  value this SDK does not know yet passes through instead of failing a walk.

Unstructuring (request bodies) uses cattrs' generated functions: camelCase keys, and fields
left as None are omitted.
"""

from __future__ import annotations

import itertools
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from .common import Secret

__all__ = ["converter", "structure", "to_camel", "unstructure"]

T = TypeVar("T")
_PASS_THROUGH = (str, int, bool, float)
_names = itertools.count()


@cache
def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _optional_inner(tp: Any) -> Any | None:
    """X for `X | None`, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


class _StructureCodegen:
    """Generates `structure_<Class>(o, _)` functions for attrs classes."""

    def __init__(self, conv: cattrs.Converter) -> None:
        self._conv = conv
        self._made: dict[type, Callable[[Any, Any], Any]] = {}

    def hook(self, cls: type) -> Callable[[Any, Any], Any]:
        made = self._made.get(cls)
        if made is None:
            made = self._generate(cls)
            self._made[cls] = made
        return made

    def _generate(self, cls: type) -> Callable[[Any, Any], Any]:
        hints = typing.get_type_hints(cls)
        env: dict[str, Any] = {"_cls": cls, "_MISSING": _MISSING}
        args: list[str] = []
        for field in attrs.fields(cls):
            key = to_camel(field.name)
            tp = hints[field.name]
            required = field.default is attrs.NOTHING
            if required:
                read = f"o[{key!r}]"
                value = self._convert(read, tp, env)
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                factory = _name("factory")
                env[factory] = field.default.factory
                tmp = _name("v")
                read = f"({tmp} := o.get({key!r}, _MISSING))"
                converted = self._convert(tmp, tp, env)
                value = f"({factory}() if {read} is _MISSING or {tmp} is None else {converted})"
            else:
                default = _name("default")
                env[default] = field.default
                inner = _optional_inner(tp)
                if field.default is None and inner is not None:
                    tp = inner
                tmp = _name("v")
                read = f"({tmp} := o.get({key!r}))"
                converted = self._convert(tmp, tp, env)
                if converted == tmp:
                    value = f"o.get({key!r}, {default})"
                else:
                    value = f"({default} if {read} is None else {converted})"
            args.append(f"{field.name}={value}" if field.kw_only else value)
        source = f"def structure(o, _=None):\n    return _cls({', '.join(args)})\n"
        code = compile(source, f"<weavr_async structure {cls.__name__}>", "exec")
        namespace: dict[str, Any] = {}
        exec(code, env, namespace)
        function: Callable[[Any, Any], Any] = namespace["structure"]
        return function

    @staticmethod
    def _leaf_fields(cls: type) -> list[str] | None:
        """Field names of a class whose fields are all required, positional and plain JSON
        values; None for any other class."""
        hints = typing.get_type_hints(cls)
        fields = attrs.fields(cls)
        if len(fields) > 4:
            return None
        for field in fields:
            if field.default is not attrs.NOTHING or field.kw_only:
                return None
            if hints[field.name] not in _PASS_THROUGH:
                return None
        return [f.name for f in fields]

    def _convert(self, expr: str, tp: Any, env: dict[str, Any]) -> str:
        inner = _optional_inner(tp)
        if inner is not None:
            tmp = _name("v")
            converted = self._convert(tmp, inner, env)
            if converted == tmp:
                return expr
            return f"(None if ({tmp} := {expr}) is None else {converted})"
        if tp in _PASS_THROUGH or tp is Any or typing.get_origin(tp) in (Mapping, dict):
            return expr
        if typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp)
            tmp = _name("i")
            converted = self._convert(tmp, item, env)
            if converted == tmp:
                return f"list({expr})"
            return f"[{converted} for {tmp} in {expr}]"
        if attrs.has(tp):
            leaf = self._leaf_fields(tp)
            if leaf is not None:
                # Small all-required classes (CurrencyAmount, TransactionId) are built inline:
                # one call fewer per nested object, ~20% of a statement entry's decode.
                cls_name, tmp = _name("cls"), _name("v")
                env[cls_name] = tp
                reads = ", ".join(f"{tmp}[{to_camel(f)!r}]" for f in leaf)
                return f"({cls_name}({reads}) if ({tmp} := {expr}) is not None else None)"
            fn = _name("structure")
            env[fn] = self.hook(tp)
            return f"{fn}({expr})"
        if typing.get_origin(tp) is typing.Literal:
            return expr
        # Anything else (Secret, ...) goes through the converter's own hook for it.
        fn = _name("hook")
        typ = _name("type")
        env[fn] = self._conv.get_structure_hook(tp)
        env[typ] = tp
        return f"{fn}({expr}, {typ})"


class _Missing:
    __slots__ = ()


_MISSING = _Missing()


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

    def structure_secret(value: Any, _: type) -> Secret:
        # The contract types the access token as {"token": "..."}; deployments answer a bare
        # string too. Either way it is wrapped at once so it never reaches a repr or a log.
        if isinstance(value, Mapping):
            value = value.get("token")
        if not isinstance(value, str) or not value:
            raise ValueError("the access-token response carries no token")
        return Secret(value)

    conv.register_structure_hook(Secret, structure_secret)
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
