"""The reconciliation of one identity's instruments: the unit of work of every executor.

First each instrument's statement is walked oldest first through its own snapshot and
checked as it streams (`StatementChecks`). Then the identity's transfers are walked once, and
each COMPLETED transfer is matched against the TRANSFER entries of the instruments it touches
(`TransferMatch`). One walk per identity rather than one per instrument: it costs fewer
requests, and it finds a transfer from either side (the API's `instrumentId` filter is not
documented to match destinations). A transfer counts for an instrument when its money moved
inside the statement's window, up to that statement's snapshot bound: the transfers walk
starts after every statement walk has pinned its snapshot, so it sees every transfer the
statements could show. A TRANSFER entry still unmatched (its transfer created before the
window, executed inside it) is looked up by id, up to `JobSettings.lookups` per instrument.

With a `StateStore`, each walk saves its checkpoint with its checks every
`checkpoint_every` seconds and whenever it stops (error, cancellation, exhausted budget), so a
task run again continues where the last one stopped and ends with the same results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .._pagination import Checkpoint
from ..client import BackOffice, IdentitySession
from ..errors import (
    APIError,
    BudgetExhausted,
    Forbidden,
    MalformedResponse,
    NotFound,
    WeavrError,
)
from ..models import Identity, InstrumentRef
from ._checks import (
    CROSS_LEDGER_CHECKS,
    MAX_LISTED,
    STATEMENT_CHECKS,
    CheckOutcome,
    StatementChecks,
    TransferMatch,
    all_skipped,
)
from ._input import Target
from ._result import InstrumentResult
from ._store import StateStore

__all__ = ["JobSettings", "Window", "describe_error", "reconcile_identity"]

ProgressCallback = Callable[[Target, int, "int | None"], None]
"""Called as a statement walk advances: the target, entries walked, entries counted."""


@attrs.frozen
class Window:
    """Entries processed at `from_ms` <= t < `to_ms` (epoch ms; None: unbounded)."""

    from_ms: int | None = None
    to_ms: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {"from": self.from_ms, "to": self.to_ms}


@attrs.frozen
class JobSettings:
    """How hard one identity's job pushes: pages in flight per walk, statements walked at
    once, seconds between checkpoints, transfer lookups per instrument."""

    page_concurrency: int = 4
    instruments_at_once: int = 4
    checkpoint_every: float = 1.0
    lookups: int = MAX_LISTED


ALL_TIME = Window()
DEFAULT_SETTINGS = JobSettings()


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


@attrs.define
class _StatementWalk:
    """One instrument's statement walk, as saved between runs."""

    target: Target
    checks: StatementChecks = attrs.field(factory=StatementChecks)
    checkpoint: str | None = None
    finished: bool = False
    upper: int | None = None
    error: str | None = None
    count_failure: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "checks": self.checks.to_json(),
            "checkpoint": self.checkpoint,
            "finished": self.finished,
            "upper": self.upper,
            "error": self.error,
            "count_failure": self.count_failure,
        }

    @classmethod
    def from_json(cls, target: Target, data: dict[str, Any]) -> _StatementWalk:
        return cls(
            target,
            StatementChecks.from_json(data["checks"]),
            data["checkpoint"],
            data["finished"],
            data["upper"],
            data["error"],
            data["count_failure"],
        )


async def reconcile_identity(
    bo: BackOffice,
    identity: Identity,
    targets: Sequence[Target],
    *,
    window: Window = ALL_TIME,
    settings: JobSettings = DEFAULT_SETTINGS,
    store: StateStore | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[InstrumentResult]:
    """Reconcile `targets` (instruments of `identity`); their results, in the same order.

    An API error on one instrument becomes that instrument's `error` (its checks skipped).
    `BudgetExhausted` and cancellation stop the job: the state is saved first.
    """
    session = bo.identity(identity)
    done: dict[str, InstrumentResult] = {}
    walks: list[_StatementWalk] = []
    for target in targets:
        saved = store.load_instrument(target) if store is not None else None
        if saved is not None and saved.get("result") is not None:
            done[target.key] = InstrumentResult.from_json(saved["result"])
        elif saved is not None and saved.get("walk") is not None:
            walks.append(_StatementWalk.from_json(target, saved["walk"]))
        else:
            walks.append(_StatementWalk(target))
    if walks:
        await _walk_statements(session, walks, window, settings, store, on_progress)
        matches = await _match_transfers(session, identity, walks, window, settings, store)
        for walk in walks:
            result = _result(walk, matches)
            done[walk.target.key] = result
            if store is not None:
                store.save_instrument(walk.target, {"result": result.to_json()})
    return [done[target.key] for target in targets]


# -- statements --------------------------------------------------------------------------


async def _walk_statements(
    session: IdentitySession,
    walks: list[_StatementWalk],
    window: Window,
    settings: JobSettings,
    store: StateStore | None,
    on_progress: ProgressCallback | None,
) -> None:
    slots = asyncio.Semaphore(settings.instruments_at_once)

    async def one(walk: _StatementWalk) -> None:
        async with slots:
            await _walk_statement(session, walk, window, settings, store, on_progress)

    pending = [walk for walk in walks if not walk.finished]
    outcomes = await asyncio.gather(*(one(w) for w in pending), return_exceptions=True)
    # Every walk ran to its end or its stop (and saved its state) before one stop is raised.
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def _walk_statement(
    session: IdentitySession,
    walk: _StatementWalk,
    window: Window,
    settings: JobSettings,
    store: StateStore | None,
    on_progress: ProgressCallback | None,
) -> None:
    target = walk.target
    resource = (
        session.managed_accounts
        if target.instrument.type == "managed_accounts"
        else session.managed_cards
    )
    checkpoint = None if walk.checkpoint is None else Checkpoint.from_json(walk.checkpoint)
    stream = resource.statement(
        target.instrument.id,
        order="ASC",
        from_timestamp=window.from_ms,
        to_timestamp=window.to_ms,
        concurrency=settings.page_concurrency,
        checkpoint=checkpoint,
    )
    checks = walk.checks

    def save() -> None:
        walk.checkpoint = stream.checkpoint.to_json()
        if store is not None:
            store.save_instrument(target, {"walk": walk.to_json()})

    saved_at = time.monotonic()
    counted: int | None = None
    try:
        async for page in stream.pages():
            checks.add_page(page.items, page.start_balance, page.end_balance)
            # What the walk expects while it runs (its total is set to what it yielded once
            # it ends, which would hide a walk that ended short).
            counted = stream.progress.total
            if on_progress is not None:
                on_progress(target, checks.entries, counted)
            if store is not None and time.monotonic() - saved_at >= settings.checkpoint_every:
                save()
                saved_at = time.monotonic()
    except MalformedResponse as exc:
        # The walk could not be brought to the API's count (or read at all): the SDK never
        # ends a walk short, so this is where a count that does not hold shows.
        walk.error = describe_error(exc)
        walk.count_failure = True
    except (BudgetExhausted, asyncio.CancelledError):
        save()
        raise
    except WeavrError as exc:
        walk.error = describe_error(exc)
    else:
        checks.finish(stream.progress.total if counted is None else counted)
        pin = stream.checkpoint.pin
        walk.upper = window.to_ms if pin is None else pin
    walk.finished = True
    walk.checkpoint = None
    if on_progress is not None:
        on_progress(target, checks.entries, checks.total if walk.error is None else checks.entries)
    if store is not None:
        store.save_instrument(target, {"walk": walk.to_json()})


# -- transfers ---------------------------------------------------------------------------


@attrs.define
class _Matching:
    """An identity's cross-ledger phase, as saved between runs."""

    keys: list[str]
    matches: dict[str, TransferMatch]
    checkpoint: str | None = None
    finished: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "matches": {k: m.to_json() for k, m in self.matches.items()},
            "checkpoint": self.checkpoint,
            "finished": self.finished,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Matching:
        return cls(
            list(data["keys"]),
            {k: TransferMatch.from_json(m) for k, m in data["matches"].items()},
            data["checkpoint"],
            data["finished"],
            data["error"],
        )


async def _match_transfers(
    session: IdentitySession,
    identity: Identity,
    walks: list[_StatementWalk],
    window: Window,
    settings: JobSettings,
    store: StateStore | None,
) -> _Matching:
    walked = [w for w in walks if w.error is None]
    keys = sorted(w.target.key for w in walked)
    saved = store.load_identity(identity) if store is not None else None
    if saved is not None and saved.get("keys") == keys:
        matching = _Matching.from_json(saved)
    else:
        matching = _Matching(
            keys,
            {
                w.target.key: TransferMatch(
                    w.target.instrument, window.from_ms, w.upper, dict(w.checks.transfers)
                )
                for w in walked
            },
        )
    if matching.finished or not walked:
        return matching

    def save() -> None:
        if store is not None:
            store.save_identity(identity, matching.to_json())

    by_ref: dict[InstrumentRef, TransferMatch] = {
        m.instrument: m for m in matching.matches.values()
    }
    uppers = [m.upper for m in matching.matches.values()]
    bounded = [u for u in uppers if u is not None]
    created_to = max(bounded) if len(bounded) == len(uppers) else None
    checkpoint = None if matching.checkpoint is None else Checkpoint.from_json(matching.checkpoint)
    stream = session.transfers.list(
        created_from=window.from_ms,
        created_to=created_to,
        concurrency=settings.page_concurrency,
        checkpoint=checkpoint,
    )
    saved_at = time.monotonic()
    try:
        async for page in stream.pages():
            for transfer in page.items:
                for side in (transfer.source, transfer.destination):
                    match = by_ref.get(side)
                    if match is not None:
                        match.add(transfer)
            if store is not None and time.monotonic() - saved_at >= settings.checkpoint_every:
                matching.checkpoint = stream.checkpoint.to_json()
                save()
                saved_at = time.monotonic()
        await _look_up_leftovers(session, matching, settings)
    except (BudgetExhausted, asyncio.CancelledError):
        matching.checkpoint = stream.checkpoint.to_json()
        save()
        raise
    except WeavrError as exc:
        matching.error = f"transfers: {describe_error(exc)}"
    matching.finished = True
    matching.checkpoint = None
    save()
    return matching


async def _look_up_leftovers(
    session: IdentitySession, matching: _Matching, settings: JobSettings
) -> None:
    """Look up the transfers of TRANSFER entries still unmatched (a few per instrument: many
    unmatched entries say the books are broken, not that the window cut them off)."""
    for match in matching.matches.values():
        leftovers = match.unmatched()
        if not 0 < len(leftovers) <= settings.lookups:
            continue
        for transaction_id in leftovers:
            try:
                transfer = await session.transfers.get(transaction_id)
            except (NotFound, Forbidden):
                continue
            match.resolve(transfer)


# -- results -----------------------------------------------------------------------------


def _result(walk: _StatementWalk, matching: _Matching) -> InstrumentResult:
    checks = walk.checks
    outcomes: dict[str, CheckOutcome]
    if walk.error is not None:
        outcomes = all_skipped(STATEMENT_CHECKS, "the statement could not be walked")
        if walk.count_failure:
            outcomes["count"] = CheckOutcome(
                "failed", 1, f"the walk could not be brought to the API's count: {walk.error}"
            )
        outcomes.update(all_skipped(CROSS_LEDGER_CHECKS, "the statement could not be walked"))
        return InstrumentResult(
            walk.target, outcomes, checks.currency, checks.entries, error=walk.error
        )
    outcomes = checks.outcomes()
    match = matching.matches.get(walk.target.key)
    error = None
    if matching.error is not None or match is None:
        error = matching.error
        outcomes.update(all_skipped(CROSS_LEDGER_CHECKS, "the transfers could not be walked"))
        transfers = 0
    else:
        outcomes.update(match.outcomes())
        transfers = match.expected
    return InstrumentResult(
        walk.target,
        outcomes,
        checks.currency,
        checks.entries,
        transfers,
        checks.start,
        checks.end,
        error,
    )
