"""Declarations of the API's operations, and the pure parts of building a request.

Nothing here does I/O: an `Operation` says what the contract says (method, path, whether it
needs the identity's token, whether it takes an `idempotency-ref`), and the functions turn
Python arguments into a path and query pairs. The transport executes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal
from urllib.parse import quote

import attrs

__all__ = ["OPERATIONS", "Method", "Operation", "QueryPairs", "epoch_millis"]

Method = Literal["GET", "POST", "PATCH", "DELETE"]
QueryPairs = list[tuple[str, str]]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")  # what `quote(value, safe="")` leaves as it is

OPERATIONS: dict[str, Operation] = {}
"""Every declared operation by its contract `operationId`, filled as resource modules load."""


@attrs.frozen
class Operation:
    """One operation of the contract.

    `retry_safe` says the request may be sent again after it reached the server without risk
    of doing twice what was meant once: reads, and writes the API makes idempotent (an
    `idempotency-ref` is always sent for those). Everything else is retried only when the
    failure proves the request never arrived.

    `success` is the one status the contract promises when the call succeeds: any other
    status below 400 (a redirect, a 200 where 204 is due) is not taken as success.

    A `deprecated` operation still works, but every call of it warns (`DeprecationWarning`),
    naming `replacement`, what to use instead.
    """

    operation_id: str
    method: Method
    path: str
    secured: bool = True
    idempotency_ref: bool = False
    deprecated: bool = False
    naturally_idempotent: bool = False
    success: int = 200
    replacement: str | None = None

    _template: str = attrs.field(init=False, repr=False, eq=False)
    _names: tuple[str, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # The path as a format string, filled on every call without a regex.
        names = tuple(_PLACEHOLDER.findall(self.path))
        template = self.path.replace("{", "{{").replace("}", "}}")
        for name in names:
            template = template.replace("{{" + name + "}}", "{" + name + "}")
        object.__setattr__(self, "_template", template)
        object.__setattr__(self, "_names", names)
        OPERATIONS[self.operation_id] = self

    @property
    def retry_safe(self) -> bool:
        return self.method == "GET" or self.idempotency_ref or self.naturally_idempotent

    @property
    def deprecation(self) -> str | None:
        """What the `DeprecationWarning` of a call says, or None if the operation is current."""
        if not self.deprecated:
            return None
        message = f"{self.operation_id} is deprecated by the API"
        return message if self.replacement is None else f"{message}; use {self.replacement}"

    def render_path(self, params: Mapping[str, str]) -> str:
        """Fill the path template; values are percent-encoded (they are validated earlier)."""

        if not self._names:
            return self.path
        return self._template.format_map({name: _segment(params[name]) for name in self._names})


def _segment(value: str) -> str:
    """`value` as one path segment: percent-encoded unless it needs none (ids do not)."""
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def epoch_millis(value: datetime | int) -> int:
    """Epoch milliseconds from a timezone-aware datetime or an int already in milliseconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone (e.g. UTC)")
        return int(value.timestamp() * 1000)
    return value


def query_pairs(params: Mapping[str, object]) -> QueryPairs:
    """Query pairs from wire-named params: None is left out, lists repeat the key, bools are
    lowercase and everything else is `str()`-ed, as the contract's form/explode style wants."""
    pairs: QueryPairs = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            values: Iterable[object] = (
                sorted(value) if isinstance(value, set | frozenset) else value
            )
            pairs.extend((key, _scalar(v)) for v in values)
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
