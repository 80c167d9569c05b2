"""Scripted and probabilistic fault injection for the fake BackOffice server."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Literal

import attrs

__all__ = ["FaultAction", "Faults", "MalformedKind"]

MalformedKind = Literal["truncated", "garbage", "html"]
FaultKind = Literal["error", "drop", "drop_after_commit", "rate_limit", "malformed"]
_ERROR_STATUSES = (500, 502, 503, 504)


@attrs.define
class FaultAction:
    """One fault to inject into the current request (decided before the handler runs)."""

    kind: FaultKind
    status: int = 0
    headers: dict[str, str] | None = None
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    reset: int = 1
    malformed: MalformedKind = "truncated"


@attrs.define
class _Scripted:
    action: FaultAction
    remaining: int
    operation_id: str | None


class Faults:
    """Fault plan of a FakeBackOffice: scripted one-shot faults first, then seeded random rates.

    Scripted faults apply to the next matching requests in the order they were scripted; the
    rates (each a probability in [0, 1]) are drawn from an RNG seeded by the simulator seed.
    ``injected`` counts what was actually injected, by kind.
    """

    def __init__(self, seed: int = 0, operation_ids: frozenset[str] | None = None) -> None:
        self._known = operation_ids
        self._rng = random.Random(f"faults:{seed}")
        self._queue: list[_Scripted] = []
        self.error_rate = 0.0
        self.rate_limit_rate = 0.0
        self.drop_rate = 0.0
        self.drop_after_commit_rate = 0.0
        self.malformed_rate = 0.0
        self.slow_rate = 0.0
        self.slow_seconds = 0.5
        # Injected 429s stand for sporadic throttling by a limit the simulator does not
        # enforce; this is the limit they advertise (a client that paces itself by it should
        # not be slowed down much). `set_rate_limit` enforces a real one.
        self.rate_limit_header = "1000, 1000;w=1"
        # ... and the x-ratelimit-reset they send (whole seconds, as the contract types it; a
        # client that believes it waits that long: 0 keeps a test about something else fast).
        self.rate_limit_reset = 1
        self.injected: Counter[str] = Counter()

    def script(
        self,
        status: int = 503,
        count: int = 2,
        operation_id: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (handler not run)."""
        self._push(
            FaultAction("error", status=status, headers=headers, body=body), count, operation_id
        )

    def script_drop(
        self, count: int = 1, operation_id: str | None = None, after_commit: bool = False
    ) -> None:
        """Close the connection without answering, before or after the handler committed."""
        kind: FaultKind = "drop_after_commit" if after_commit else "drop"
        self._push(FaultAction(kind), count, operation_id)

    def script_rate_limit(
        self, count: int = 1, reset: int = 1, operation_id: str | None = None
    ) -> None:
        """Answer the next ``count`` matching requests with 429 and rate-limit headers."""
        self._push(FaultAction("rate_limit", status=429, reset=reset), count, operation_id)

    def script_malformed(
        self,
        count: int = 1,
        kind: MalformedKind = "truncated",
        operation_id: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with a 200 whose body is broken."""
        if kind not in ("truncated", "garbage", "html"):
            raise ValueError(f"unknown malformed kind: {kind!r}")
        self._push(FaultAction("malformed", status=200, malformed=kind), count, operation_id)

    def clear(self) -> None:
        """Forget all scripted faults and set every rate back to 0."""
        self._queue.clear()
        self.error_rate = self.rate_limit_rate = self.drop_rate = 0.0
        self.drop_after_commit_rate = self.malformed_rate = self.slow_rate = 0.0

    @property
    def pending(self) -> int:
        """Number of scripted fault responses not yet used."""
        return sum(s.remaining for s in self._queue)

    def _push(self, action: FaultAction, count: int, operation_id: str | None) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        if operation_id is not None and self._known is not None and operation_id not in self._known:
            raise ValueError(f"unknown operationId: {operation_id!r}")
        self._queue.append(_Scripted(action, count, operation_id))

    def next_action(self, operation_id: str | None) -> FaultAction | None:
        """Pick the fault for a request to ``operation_id`` (scripted first), or None."""
        for i, item in enumerate(self._queue):
            if item.operation_id is None or item.operation_id == operation_id:
                item.remaining -= 1
                if item.remaining <= 0:
                    del self._queue[i]
                return item.action
        rng = self._rng
        if self.error_rate and rng.random() < self.error_rate:
            return FaultAction("error", status=rng.choice(_ERROR_STATUSES))
        if self.rate_limit_rate and rng.random() < self.rate_limit_rate:
            return FaultAction("rate_limit", status=429, reset=self.rate_limit_reset)
        if self.drop_rate and rng.random() < self.drop_rate:
            return FaultAction("drop")
        if self.drop_after_commit_rate and rng.random() < self.drop_after_commit_rate:
            return FaultAction("drop_after_commit")
        if self.malformed_rate and rng.random() < self.malformed_rate:
            kind: MalformedKind = rng.choice(("truncated", "garbage", "html"))
            return FaultAction("malformed", status=200, malformed=kind)
        return None

    def slow_delay(self) -> float:
        """Extra seconds to wait for this request (``slow_seconds`` with ``slow_rate``)."""
        if self.slow_rate and self._rng.random() < self.slow_rate:
            self.injected["slow"] += 1
            return self.slow_seconds
        return 0.0
