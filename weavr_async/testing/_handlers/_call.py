"""`Call`: one call of an operation as its handler sees it, and the reading of its parameters.

Whatever cannot be read is refused with a 400 listing the problems (`Refused`); the app
renders it in the body shape the operation declares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import orjson
from multidict import MultiMapping

from .._entities import StoredIdentity
from .._replies import invalid
from .._store import Store
from .._validation import DIGITS, Problems

__all__ = ["Call", "Knobs"]

_INT64 = (-(2**63), 2**63 - 1)
_INT32_MAX = 2**31 - 1
_INTEGER = re.compile(r"^-?[0-9]+$")


class Knobs(Protocol):
    """The simulator's settings a handler reads (FakeBackOffice has them all)."""

    token_shape: Literal["object", "string"]
    page_cap: int | None
    arrivals_per_statement_request: int
    arrivals_per_transfers_request: int


class Call:
    """One call: who makes it (None only for requestAccessToken), its path parameters, query,
    body and Accept header, and the state and settings it runs against."""

    __slots__ = ("accept", "body", "identity", "knobs", "path", "query", "store")

    def __init__(
        self,
        store: Store,
        knobs: Knobs,
        identity: StoredIdentity | None,
        path: Mapping[str, str],
        query: MultiMapping[str],
        body: bytes,
        accept: str,
    ) -> None:
        self.store = store
        self.knobs = knobs
        self.identity = identity
        self.path = path
        self.query = query
        self.body = body
        self.accept = accept

    @property
    def who(self) -> StoredIdentity:
        """The identity whose token the call carries."""
        assert self.identity is not None
        return self.identity

    def json_body(self) -> Any:
        """The body as JSON (None when empty)."""
        if not self.body.strip():
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            problems = Problems()
            problems.add("body", "INVALID_REQUEST", "request body is not valid JSON")
            raise invalid(problems) from None

    def path_id(self, name: str = "id") -> str:
        """A numeric id from the path."""
        value = self.path.get(name, "")
        if not DIGITS.match(value):
            problems = Problems()
            problems.add(name, "REGEX", f"{name} must match ^[0-9]+$")
            raise invalid(problems)
        return value

    # The query readers record what they cannot read in ``problems`` and answer None, so a
    # handler reports every bad parameter at once.

    def query_int(
        self, name: str, problems: Problems, minimum: int = _INT64[0], maximum: int = _INT64[1]
    ) -> int | None:
        """An integer parameter within [minimum, maximum]."""
        raw = self.query.get(name)
        if raw is None:
            return None
        if not _INTEGER.match(raw):
            problems.add(name, "INVALID_TYPE_OR_VALUE", f"{name} must be an integer")
            return None
        value = int(raw)
        if value < minimum:
            problems.add(name, "AT_LEAST", f"{name} must be at least {minimum}")
            return None
        if value > maximum:
            problems.add(name, "AT_MOST", f"{name} must be at most {maximum}")
            return None
        return value

    def query_bool(self, name: str, problems: Problems) -> bool | None:
        """A ``true`` / ``false`` parameter."""
        raw = self.query.get(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            problems.add(name, "INVALID_TYPE_OR_VALUE", f"{name} must be true or false")
            return None
        return raw == "true"

    def query_enum(self, name: str, problems: Problems, values: tuple[str, ...]) -> str | None:
        """A parameter taking one of ``values``."""
        raw = self.query.get(name)
        if raw is None:
            return None
        if raw not in values:
            problems.add(name, "IN", f"{name} must be one of {', '.join(values)}")
            return None
        return raw

    def query_enums(
        self, name: str, problems: Problems, values: tuple[str, ...]
    ) -> frozenset[str] | None:
        """A repeated parameter, each of ``values`` (None when absent)."""
        raw = self.query.getall(name, [])
        if not raw:
            return None
        if any(v not in values for v in raw):
            problems.add(name, "IN", f"{name} values must be among {', '.join(values)}")
            return None
        return frozenset(raw)

    def paging(self, problems: Problems, limit_name: str, cap: int) -> tuple[int, int]:
        """(offset, limit): limit 100 by default, at most ``cap``, and at most the simulator's
        ``page_cap`` served whatever was asked."""
        offset = self.query_int("offset", problems, 0, _INT32_MAX)
        limit = self.query_int(limit_name, problems, 1, cap)
        served = 100 if limit is None else limit
        page_cap = self.knobs.page_cap
        if page_cap is not None:
            served = min(served, page_cap)
        return (offset or 0), served
