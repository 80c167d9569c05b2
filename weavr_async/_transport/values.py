"""What a call is configured with and what it answers: retry policy, per-call options, the
client's counters, a response, and the two protocols the transport is given (a token source,
a download sink). No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from ..models import Secret

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_DOWNLOAD_SIZE",
    "SANDBOX_URL",
    "Auth",
    "CallOptions",
    "DownloadSink",
    "Response",
    "Retry",
    "TransportStats",
]

SANDBOX_URL = "https://sandbox.weavr.io/multi/backoffice"
DEFAULT_MAX_BODY_SIZE = 32 * 1024**2
"""JSON bodies larger than this are refused (a 500-entry statement page is about 0.5 MB)."""
DEFAULT_MAX_DOWNLOAD_SIZE = 2 * 1024**3
"""Statement files larger than this are refused rather than filling a disk."""


class Auth(Protocol):
    """Supplies the identity's bearer token and forgets one the API refused."""

    async def token(self) -> Secret: ...

    def cached(self) -> Secret | None:
        """The token if one is at hand now (no request needed), else None."""
        ...

    def invalidate(self, token: Secret) -> bool: ...


class DownloadSink(Protocol):
    """Where a downloaded body goes: `restart` before each attempt's first byte."""

    async def restart(self) -> None: ...

    async def write(self, chunk: bytes) -> None: ...


@attrs.frozen
class Retry:
    """How failed requests are retried (with `backoff`'s exponential waits, full jitter).

    `max_attempts` counts the first try, and the token request a call may need is part of
    the same budget. `deadline` bounds the seconds one logical call spends with the server
    and waiting between its attempts, all attempts together (time queued behind the client's
    own concurrency cap and rate gate is not counted); None for no bound. A 429's
    `x-ratelimit-reset` closes the client's `RateBudget` for that long, and what its
    `x-ratelimit-limit` says becomes a window of the budget (`adaptive_rate_limit`, the
    default; without it each request waits out its own 429). `max_rate_limit_wait` is the
    longest a request waits for the budget: past it the call fails with `BudgetExhausted`
    (carrying when the budget returns) instead of hanging; None waits as long as it takes.
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    base_delay: float = attrs.field(default=0.2, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))
    max_rate_limit_wait: float | None = attrs.field(default=120.0)
    adaptive_rate_limit: bool = True
    deadline: float | None = attrs.field(default=60.0)

    @max_rate_limit_wait.validator
    def _check_wait(self, _: attrs.Attribute[float | None], value: float | None) -> None:
        if value is not None and not value >= 0:
            raise ValueError("max_rate_limit_wait must be >= 0 (or None)")

    @deadline.validator
    def _check_deadline(self, _: attrs.Attribute[float | None], value: float | None) -> None:
        if value is not None and not value > 0:
            raise ValueError("deadline must be positive (or None)")

    @classmethod
    def disabled(cls) -> Retry:
        return cls(max_attempts=1)


@attrs.frozen
class CallOptions:
    """What may differ from one call to the next on a shared client (`with_options`)."""

    timeout: float
    retry: Retry
    headers: tuple[tuple[str, str], ...] = ()


@attrs.define
class TransportStats:
    """Counters a job can report: requests sent, retries, 429s seen, time spent waiting."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    token_refreshes: int = 0
    rate_limit_wait_seconds: float = 0.0


@attrs.define  # not frozen: built on every call, and frozen attrs pay a setattr per field
class Response:
    status: int
    data: Any = attrs.field(repr=False)  # an access-token answer carries the token
    request_ref: str | None
    headers: Mapping[str, str] = attrs.field(repr=False)
