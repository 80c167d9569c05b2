"""One instrument's reconciliation result: what was walked, every check's verdict, any error.

Results hold only what the books say, never how the run went (requests, retries, timing), so
the same books give the same results however the job ran: in one process or on a cluster,
straight through or stopped and resumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import (
    APIError,
    MalformedResponse,
    RateLimited,
    ServerError,
    TransportError,
)
from ._checks import CHECKS, CheckOutcome
from ._input import Target

__all__ = ["InstrumentResult", "describe_error", "transient"]


@attrs.frozen
class InstrumentResult:
    """The reconciliation of one instrument: `ok` when no check failed and no error stopped
    it. `transfers` counts the completed transfers touching it in the window."""

    target: Target
    checks: Mapping[str, CheckOutcome]
    currency: str | None = None
    entries: int = 0
    transfers: int = 0
    start_balance: int | None = None
    end_balance: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed_checks

    @property
    def failed_checks(self) -> list[str]:
        return [name for name in CHECKS if name in self.checks and self.checks[name].failed]

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON object (the line it takes in a JSON lines output)."""
        target = self.target
        return {
            "identity_type": target.identity.type,
            "identity_id": target.identity.id,
            "instrument_type": target.instrument.type,
            "instrument_id": target.instrument.id,
            "ok": self.ok,
            "failed_checks": self.failed_checks,
            "currency": self.currency,
            "entries": self.entries,
            "transfers": self.transfers,
            "start_balance": self.start_balance,
            "end_balance": self.end_balance,
            "checks": {name: self.checks[name].to_json() for name in CHECKS if name in self.checks},
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstrumentResult:
        target = Target.of(
            data["identity_type"],
            data["identity_id"],
            data["instrument_type"],
            data["instrument_id"],
        )
        return cls(
            target=target,
            checks={name: CheckOutcome.from_json(c) for name, c in data["checks"].items()},
            currency=data["currency"],
            entries=data["entries"],
            transfers=data["transfers"],
            start_balance=data["start_balance"],
            end_balance=data["end_balance"],
            error=data["error"],
        )


def describe_error(exc: BaseException) -> str:
    """An error as results show it: the same text for the same failure on every run (no
    request reference, which the run's log gives instead)."""
    if isinstance(exc, APIError):
        parts = [type(exc).__name__, str(exc.status)]
        if exc.error_code:
            parts.append(exc.error_code)
        text = " ".join(parts)
        return f"{exc.operation}: {text}" if exc.operation else text
    return f"{type(exc).__name__}: {exc}"


def transient(exc: BaseException) -> bool:
    """Whether a failure may pass if tried again later (the network, a 5xx, a 429 that
    outlasted the retries), rather than being the answer (a 4xx, an unreadable walk)."""
    if isinstance(exc, MalformedResponse):
        return False
    return isinstance(exc, TransportError | ServerError | RateLimited)
