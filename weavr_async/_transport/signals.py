"""How one attempt tells the exchange what happened: the fixed request, a failure that may be
retried, a token the API refused; the call's clock; a learned limit's margin."""

from __future__ import annotations

import attrs

from .._operation import Operation, QueryPairs
from ..errors import APIError, WeavrError
from ..models import Secret

__all__ = [
    "LEARNED_WINDOW_MARGIN",
    "Clock",
    "Refused",
    "Request",
    "Retryable",
    "is_transient",
    "mark_transient",
    "with_margin",
]

LEARNED_WINDOW_MARGIN = 1.1


@attrs.define  # not frozen: built on every call, and frozen attrs pay a setattr per field
class Request:
    """One logical call, fixed before its first attempt (so every retry repeats it)."""

    op: Operation
    url: str
    query: QueryPairs
    body: bytes | None
    idempotency_ref: str | None
    accept: str


class Retryable(Exception):
    """Raised inside one attempt when another may follow; carries the final error to raise."""

    def __init__(self, error: WeavrError, wait_hint: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait_hint = wait_hint


class Refused(Exception):
    """A 401 on a request that carried a token: the token may have expired."""

    def __init__(self, error: APIError, token: Secret) -> None:
        super().__init__(str(error))
        self.error = error
        self.token = token


def mark_transient(error: WeavrError) -> WeavrError:
    # Read by a call whose token request failed this way: it may try again (see `_attempt`).
    error._transient = True  # type: ignore[attr-defined]
    return error


def is_transient(error: BaseException) -> bool:
    return bool(getattr(error, "_transient", False))


def with_margin(limit: tuple[int, float] | None) -> tuple[int, float] | None:
    """A limit a 429 taught, its window widened by `LEARNED_WINDOW_MARGIN`: the budget counts
    a request when it starts, the API when it arrives, and arrivals jitter by milliseconds."""
    return None if limit is None else (limit[0], limit[1] * LEARNED_WINDOW_MARGIN)


@attrs.define
class Clock:
    """Seconds a logical call has spent with the server and in backoff waits."""

    spent: float = 0.0
