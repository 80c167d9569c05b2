"""Checkpoint: where a walk stands, the checks a checkpoint handed back must pass before a walk
resumes from it, and the fingerprint that ties it to the arguments of its call."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import attrs
import orjson

from .._operation import QueryPairs
from ..errors import InvalidRequest
from .values import INT32_MAX, INT64_MAX, Order


@attrs.frozen
class Checkpoint:
    """What a walk has yielded, enough to resume the same snapshot exactly.

    Serialise with `to_json()` and pass `Checkpoint.from_json(...)` back as `checkpoint=`
    to the same call with the same filters. `from_json` checks every field's type and range
    and raises `InvalidRequest` (a ValueError) for text that is not such a checkpoint.
    """

    operation_id: str
    fingerprint: str
    yielded: int
    pin: int | None = None
    cursor: int | None = None
    cursor_keys: tuple[str, ...] = ()
    offset: int = 0
    total: int | None = None
    version: int = 1
    order: Order | None = None

    def to_json(self) -> str:
        return orjson.dumps(attrs.asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        try:
            data = orjson.loads(text)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise InvalidRequest("checkpoint", "not JSON text") from exc
        problem = checkpoint_problem(data)
        if problem is not None:
            raise InvalidRequest("checkpoint", problem)
        data["cursor_keys"] = tuple(data["cursor_keys"])
        return cls(**data)


def fingerprint(operation_id: str, pairs: QueryPairs, path_params: Mapping[str, str]) -> str:
    """The call a checkpoint belongs to: its operation, path and filters, as 32 hex digits."""
    canonical = orjson.dumps(
        [operation_id, sorted(path_params.items()), sorted(pairs)], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()[:32]


_FINGERPRINT = re.compile(r"[0-9a-f]{32}")
_MAX_OPERATION_ID = 200
_CHECKPOINT_FIELDS = frozenset(f.name for f in attrs.fields(Checkpoint))
_OPTIONAL_FIELDS = frozenset({"order"})  # added later: a checkpoint saved without it is read


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _integer_problem(name: str, value: object, high: int, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if type(value) is not int or not 0 <= value <= high:
        return f"{name} must be an integer in 0..{high}, got {_show(value)}"
    return None


def checkpoint_problem(data: object) -> str | None:
    """What makes `data` (a checkpoint's fields) unfit to resume a walk, or None."""
    if not isinstance(data, Mapping):
        return "not a JSON object"
    version = data.get("version")
    if type(version) is not int or version != 1:
        return f"not a version-1 weavr-async checkpoint (version {_show(version)})"
    extra = sorted(set(data) - _CHECKPOINT_FIELDS)
    if extra:
        return f"unknown fields {_show(extra)}"
    missing = sorted(_CHECKPOINT_FIELDS - _OPTIONAL_FIELDS - set(data))
    if missing:
        return f"missing fields {missing}"
    operation_id = data["operation_id"]
    if not isinstance(operation_id, str) or not 0 < len(operation_id) <= _MAX_OPERATION_ID:
        return f"operation_id must be a non-empty string, got {_show(operation_id)}"
    fingerprint = data["fingerprint"]
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        return f"fingerprint must be 32 hex digits, got {_show(fingerprint)}"
    for problem in (
        _integer_problem("yielded", data["yielded"], INT64_MAX),
        _integer_problem("pin", data["pin"], INT64_MAX, optional=True),
        _integer_problem("cursor", data["cursor"], INT64_MAX, optional=True),
        _integer_problem("offset", data["offset"], INT32_MAX),
        _integer_problem("total", data["total"], INT64_MAX, optional=True),
    ):
        if problem is not None:
            return problem
    keys = data["cursor_keys"]
    if not isinstance(keys, list | tuple) or not all(isinstance(k, str) for k in keys):
        return f"cursor_keys must be a list of strings, got {_show(keys)}"
    if keys and data["cursor"] is None:
        return "cursor_keys without a cursor"
    order = data.get("order")
    if order not in (None, "ASC", "DESC"):
        return f"order must be 'ASC', 'DESC' or null, got {_show(order)}"
    return None
