"""The one cattrs converter between the API's camelCase JSON and the snake_case models.

Settings chosen with benchmarks/bench_models.py: no detailed validation (its error
bookkeeping costs about a fifth of a statement entry's decode), unknown keys ignored (the API
may add fields), enum-like fields typed `str` so a value this SDK does not know passes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .common import Secret

__all__ = ["converter", "structure", "to_camel", "unstructure"]

T = TypeVar("T")


@cache
def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)

    def structure_factory(cls: type) -> Any:
        overrides = {f.name: override(rename=to_camel(f.name)) for f in attrs.fields(cls)}
        return make_dict_structure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    def unstructure_factory(cls: type) -> Any:
        overrides = {
            f.name: override(rename=to_camel(f.name), omit_if_default=f.default is None)
            for f in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)  # type: ignore[arg-type]

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)

    # Free-form string maps are handed over as decoded: copying them per entry is pure cost.
    string_map = Mapping[str, str]
    conv.register_structure_hook_func(lambda t: t == string_map, lambda value, _: value)

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


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)
