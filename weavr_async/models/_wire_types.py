"""What each model field may hold when it comes from the server, and the slow, exact account
of why a value does not fit.

The converter's generated structure functions check every value inline (`_converter.py`); when
one of those checks fails they only know *that* something is wrong. `explain` then walks the
same data against the same rules, field by field, and raises the error a caller reads: the
type, the class and field, the path from the decoded class, never the value itself (a field may
hold a credential). The rules, for a field's declared type:

- `str`, `bool`: exactly that type (a JSON `true` is not an int, `1` is not a bool);
- `int`: an int, not a bool, within signed int64 (money and timestamps are int64 in the API);
- `float`: an int within int64 or a finite float;
- `Literal[...]`: one of the literals, of the same type;
- `list[X]`: a list whose every item fits X; `Mapping[str, V]`, `dict[str, V]`: a dict whose
  values fit V (the keys of a JSON object are strings);
- an attrs class: a dict with each required key present and each value fitting its field;
- `X | None`: None or X; `Any`: whatever JSON value came;
- `Secret`: the access token, with the limits of an `Authorization` header (`secret_from_wire`).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, NoReturn

import attrs

from ._marks import SHARED
from .common import Secret

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "TOKEN_MAX_LENGTH",
    "Invalid",
    "WireField",
    "explain",
    "optional_inner",
    "secret_from_wire",
    "to_camel",
    "type_name",
    "wire_fields",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
TOKEN_MAX_LENGTH = 8192
"""The longest access token accepted (Weavr's are a few hundred characters; a header line of
several kB is where proxies start refusing)."""


class Invalid(Exception):
    """A generated check failed; the structure function that catches it calls `explain`."""


@cache
def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def optional_inner(tp: Any) -> Any | None:
    """X for `X | None`, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


@attrs.frozen
class WireField:
    """One field of a model as it is read from a JSON object.

    A field with a default takes it when its key is absent *or* null, so `tp` is then the
    declared type without its `| None`: a null never reaches the check.
    """

    name: str
    key: str
    tp: Any
    default: Any  # attrs.NOTHING when the key is required; else a value or an attrs.Factory
    kw_only: bool
    label: str  # "Class.field", how errors name it
    shared: bool = False  # marked `shared_str`: equal values decode to one object per page

    @property
    def required(self) -> bool:
        return self.default is attrs.NOTHING


@cache
def wire_fields(cls: type) -> tuple[WireField, ...]:
    hints = typing.get_type_hints(cls)
    found = []
    for field in attrs.fields(cls):
        tp = hints[field.name]
        if field.default is not attrs.NOTHING:
            tp = optional_inner(tp) or tp
        found.append(
            WireField(
                name=field.name,
                key=to_camel(field.name),
                tp=tp,
                default=field.default,
                kw_only=field.kw_only,
                label=f"{cls.__name__}.{field.name}",
                shared=bool(field.metadata.get(SHARED)),
            )
        )
    return tuple(found)


def type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


def secret_from_wire(value: Any, _: object = None) -> Secret:
    """The access token of a token response, wrapped at once so it never reaches a repr or a
    log. The contract types it as {"token": "..."}; deployments answer a bare string too.

    It goes into an `Authorization` header, where a control character, a non-ASCII character
    or a huge value would make the HTTP library raise at send time with the token in its
    frames; so such a token is refused here, with a ValueError that does not contain it.
    """
    if isinstance(value, Mapping):
        value = value.get("token")
    if value is None or value == "":
        raise ValueError("the access-token response carries no token")
    if type(value) is not str:
        raise TypeError(f"the access token: expected str, got {type_name(value)}")
    if len(value) > TOKEN_MAX_LENGTH:
        raise ValueError(f"the access token is longer than {TOKEN_MAX_LENGTH} characters")
    # For ASCII text, isprintable() is False exactly for the controls (< 0x20 and 0x7f).
    if not (value.isascii() and value.isprintable()):
        raise ValueError("the access token holds a control or non-ASCII character")
    return Secret(value)


def explain(cls: type, data: Any, caught: BaseException | None) -> None:
    """Raise the precise error for `data`, which failed a generated check of `cls`.

    Returns only when `caught` is an exception of the data's own making that the rules here
    do not describe; the caller re-raises it then.
    """
    try:
        if type(data) is not dict:
            raise TypeError(f"{cls.__name__}: expected object, got {type_name(data)}")
        _check_object(cls, data, cls.__name__)
    except (TypeError, ValueError, KeyError) as exc:
        raise exc from None
    if caught is None or isinstance(caught, Invalid):
        raise TypeError(f"{cls.__name__}: the data does not fit the model")


def _fail(error: type[Exception], label: str, path: str, what: str) -> NoReturn:
    where = "" if path == label else f" (at {path})"
    raise error(f"{label}: {what}{where}")


def _check_object(cls: type, data: dict[str, Any], path: str) -> None:
    for field in wire_fields(cls):
        at = f"{path}.{field.name}"
        if field.required:
            if field.key not in data:
                _fail(KeyError, field.label, at, f"missing (key {field.key!r})")
            value = data[field.key]
        else:
            value = data.get(field.key)
            if value is None:
                continue
        _check(field.tp, value, field.label, at)


def _check(  # noqa: C901 (one branch per kind of declared type, in step with _converter's)
    tp: Any, value: Any, label: str, path: str
) -> None:
    inner = optional_inner(tp)
    if inner is not None:
        if value is None:
            return
        tp = inner
    origin = typing.get_origin(tp)
    if tp is Any:
        return
    if tp is Secret:
        try:
            secret_from_wire(value)
        except (TypeError, ValueError) as exc:
            _fail(type(exc), label, path, str(exc))
    elif tp is int or tp is float:
        _check_number(tp, value, label, path)
    elif tp is str or tp is bool:
        if type(value) is not tp:
            _fail(TypeError, label, path, f"expected {tp.__name__}, got {type_name(value)}")
    elif origin is Literal:
        allowed = typing.get_args(tp)
        kinds = {type(a) for a in allowed}
        if type(value) not in kinds:
            expected = " or ".join(sorted(k.__name__ for k in kinds))
            _fail(TypeError, label, path, f"expected {expected}, got {type_name(value)}")
        if value not in allowed:
            _fail(ValueError, label, path, f"not one of {', '.join(map(repr, allowed))}")
    elif origin is list:
        if type(value) is not list:
            _fail(TypeError, label, path, f"expected list, got {type_name(value)}")
        (item,) = typing.get_args(tp)
        for i, x in enumerate(value):
            _check(item, x, f"{label} item", f"{path}[{i}]")
    elif origin is dict or origin is Mapping:
        if type(value) is not dict:
            _fail(TypeError, label, path, f"expected object, got {type_name(value)}")
        value_tp = typing.get_args(tp)[1]  # the keys of a JSON object are strings
        for x in value.values():
            _check(value_tp, x, f"{label} value", f"{path}[…]")
    elif attrs.has(tp):
        if type(value) is not dict:
            expected = f"{tp.__name__} object"
            _fail(TypeError, label, path, f"expected {expected}, got {type_name(value)}")
        _check_object(tp, value, path)
    else:  # the code generator refuses such fields; this keeps the two in step
        raise TypeError(f"{label}: no wire rule for {tp!r}")


def _check_number(tp: type, value: Any, label: str, path: str) -> None:
    if type(value) is float and tp is float:
        if not math.isfinite(value):
            _fail(ValueError, label, path, "not a finite number")
        return
    if type(value) is not int:
        _fail(TypeError, label, path, f"expected {tp.__name__}, got {type_name(value)}")
    if not INT64_MIN <= value <= INT64_MAX:
        _fail(ValueError, label, path, "outside the int64 range")
