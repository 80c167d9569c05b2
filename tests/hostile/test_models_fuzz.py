"""Property-based fuzzing of the models' decoding: whatever JSON a server sends, decoding any
model class either raises TypeError, ValueError or KeyError (which the resources turn into
`MalformedResponse`) or gives an instance whose every field, recursively, holds a value of its
declared type.

Every attrs class reachable from `weavr_async.models` is tried, with three kinds of data:
arbitrary JSON; objects valid for the class but for up to three values, replaced by arbitrary
JSON or removed, at any depth (so the checks of every field are reached, and the success path
is taken whenever the replacement happens to fit); and objects valid throughout, which must
decode.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, Literal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import weavr_async.models as models
from weavr_async.models import Secret, structure
from weavr_async.models._converter import to_camel

INT64 = (-(2**63), 2**63 - 1)
ALLOWED_ERRORS = (TypeError, ValueError, KeyError)
FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _reachable_models() -> list[type]:
    """Every attrs class named by weavr_async.models, and every attrs class their fields
    hold, however deep."""
    found: dict[type, None] = {}
    pending = [getattr(models, name) for name in models.__all__]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and attrs.has(item):
            if item in found:
                continue
            found[item] = None
            pending.extend(typing.get_type_hints(item).values())
        else:
            pending.extend(typing.get_args(item))
    return sorted(found, key=lambda cls: cls.__name__)


MODELS = _reachable_models()


# -- a small checker of declared types ---------------------------------------------------------


def holds(value: Any, tp: Any) -> bool:
    """Whether `value` is of the declared type `tp` (the SDK's rules: ints are int64 and not
    bools, floats finite)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(holds(value, arg) for arg in typing.get_args(tp))
    if tp is bool or tp is str:
        return type(value) is tp
    if tp is int:
        return type(value) is int and INT64[0] <= value <= INT64[1]
    if tp is float:
        return holds(value, int) or (type(value) is float and math.isfinite(value))
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        return type(value) is list and all(holds(x, item) for x in value)
    if origin in (dict, Mapping):
        key, item = typing.get_args(tp)
        return type(value) is dict and all(
            holds(k, key) and holds(x, item) for k, x in value.items()
        )
    if tp is Secret:
        token = value.reveal() if type(value) is Secret else None
        return (
            type(token) is str
            and 0 < len(token) <= 8192
            and token.isascii()
            and token.isprintable()
        )
    if attrs.has(tp):
        hints = typing.get_type_hints(tp)
        return type(value) is tp and all(
            holds(getattr(value, f.name), hints[f.name]) for f in attrs.fields(tp)
        )
    raise AssertionError(f"the test has no rule for {tp!r}")


# -- strategies ---------------------------------------------------------------------------------

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**80) | st.integers(max_value=-(2**62)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
tokens = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=64
)


@cache
def valid(tp: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON that fits `tp`."""
    return _fitting(tp, depth)


@st.composite
def spoiled(draw: st.DrawFn, cls: type) -> Any:
    """JSON that fits `cls` except for up to three places, each replaced by arbitrary JSON
    or removed: the wrong value may sit at any depth, behind any number of valid fields."""
    data = draw(valid(cls))
    for _ in range(draw(st.integers(0, 3))):
        places = list(_places(data))
        if not places:
            break
        parent, key = draw(st.sampled_from(places))
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(json_values)
    return data


def _places(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key or index) of every value inside `value`."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in list(items):
        yield value, key
        if isinstance(item, dict | list):
            yield from _places(item)


_SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    Any: json_values,
    type(None): st.none(),
    bool: st.booleans(),
    str: st.text(max_size=12),
    int: st.integers(*INT64),
    float: st.floats(allow_nan=False, allow_infinity=False) | st.integers(*INT64),
}


def _fitting(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if tp in _SCALARS:
        return _SCALARS[tp]
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(valid(arg, depth) for arg in typing.get_args(tp)))
    if origin is Literal:
        return st.sampled_from(typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        return st.lists(valid(item, depth + 1), max_size=3 if depth < 2 else 0)
    if origin in (dict, Mapping):
        _, item = typing.get_args(tp)
        return st.dictionaries(st.text(max_size=8), valid(item, depth + 1), max_size=3)
    if tp is Secret:
        return tokens | st.fixed_dictionaries({"token": tokens})
    if attrs.has(tp):
        return _fitting_model(tp, depth)
    raise AssertionError(f"the test has no strategy for {tp!r}")


def _fitting_model(cls: type, depth: int) -> st.SearchStrategy[Any]:
    """A wire object of the attrs model `cls`: its required keys always, the others maybe."""
    hints = typing.get_type_hints(cls)
    required, optional = {}, {}
    for field in attrs.fields(cls):
        value = valid(hints[field.name], depth + 1)
        if field.default is attrs.NOTHING:
            required[to_camel(field.name)] = value
        else:
            optional[to_camel(field.name)] = value
    return st.fixed_dictionaries(required, optional=optional)


# -- properties ----------------------------------------------------------------------------------


def _decode_or_refuse(data: Any, cls: type) -> None:
    try:
        result: object = structure(data, cls)
    except ALLOWED_ERRORS:
        return
    assert holds(result, cls), f"{cls.__name__} holds a value of the wrong type: {result!r}"


def _refusal(data: Any, cls: type) -> Exception | None:
    """The error that refused `data` as a `cls`, or None if it was accepted."""
    try:
        structure(data, cls)
    except ALLOWED_ERRORS as exc:
        return exc
    return None


def test_every_model_is_fuzzed() -> None:
    names = {cls.__name__ for cls in MODELS}
    assert {"StatementEntry", "ManagedCard", "FeeCharge", "AccessToken", "CurrencyAmount"} <= names
    assert {"AllLevelSpendRules", "PhysicalCardReplacement", "SpendLimit"} <= names
    assert len(MODELS) >= 40


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@settings(FUZZ, max_examples=15)  # rarely more than one field deep: few examples say it all
@given(data=st.data())
def test_arbitrary_json_is_decoded_to_declared_types_or_refused(
    cls: type, data: st.DataObject
) -> None:
    _decode_or_refuse(data.draw(json_values), cls)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_model_shaped_json_with_bad_values_is_decoded_to_declared_types_or_refused(
    cls: type, data: st.DataObject
) -> None:
    _decode_or_refuse(data.draw(spoiled(cls)), cls)


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@FUZZ
@given(data=st.data())
def test_valid_json_always_decodes(cls: type, data: st.DataObject) -> None:
    result: object = structure(data.draw(valid(cls)), cls)
    assert holds(result, cls)


@FUZZ
@given(
    token=st.text(min_size=1, max_size=40).map(lambda t: "s3cr3t" + t)
    | st.integers(8180, 8200).map(lambda n: "s3cr3t" + "x" * n)
)
def test_a_refused_token_is_never_in_the_error(token: str) -> None:
    for body in ({"token": token}, {"token": {"token": token}}):
        refusal = _refusal(body, models.AccessToken)
        assert refusal is None or "s3cr3t" not in str(refusal)
