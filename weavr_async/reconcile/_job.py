"""The reconciliation of one identity's instruments: the unit of work of every executor.

First each instrument's statement is walked oldest first through its own snapshot and
checked as it streams (`StatementChecks`); then the identity's transfers are matched against
them (`match_transfers`, the cross-ledger checks). An instrument's result holds both.

With a `StateStore`, each walk saves its checkpoint with its checks every
`checkpoint_every` seconds and whenever it stops (error, cancellation, exhausted budget), so a
task run again continues where the last one stopped and ends with the same results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import attrs

from .._pagination import Checkpoint
from ..client import BackOffice, IdentitySession
from ..errors import BudgetExhausted, MalformedResponse, WeavrError
from ..models import Identity
from ._checks import (
    CROSS_LEDGER_CHECKS,
    STATEMENT_CHECKS,
    CheckOutcome,
    StatementChecks,
    all_skipped,
)
from ._crossledger import Matching, Walked, match_transfers
from ._input import Target
from ._result import InstrumentResult, describe_error, transient
from ._settings import ALL_TIME, DEFAULT_SETTINGS, JobSettings, ProgressCallback, Window
from ._store import StateStore

__all__ = ["reconcile_identity"]


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
    transient: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "checks": self.checks.to_json(),
            "checkpoint": self.checkpoint,
            "finished": self.finished,
            "upper": self.upper,
            "error": self.error,
            "count_failure": self.count_failure,
            "transient": self.transient,
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
            data["transient"],
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

    An API error on one instrument becomes that instrument's `error` (its checks skipped);
    a later run on the same state tries the instrument again if the error was `transient`.
    `BudgetExhausted` and cancellation stop the job: the state is saved first.
    """
    session = bo.identity(identity)
    done: dict[str, InstrumentResult] = {}
    walks: list[_StatementWalk] = []
    for target in targets:
        saved = store.load_instrument(target) if store is not None else None
        if saved is not None and saved.get("result") is not None and not saved.get("retry"):
            done[target.key] = InstrumentResult.from_json(saved["result"])
        elif saved is not None and saved.get("walk") is not None and not saved.get("retry"):
            walks.append(_StatementWalk.from_json(target, saved["walk"]))
        else:
            walks.append(_StatementWalk(target))
    if walks:
        await _walk_statements(session, walks, window, settings, store, on_progress)
        walked = [
            Walked(w.target.key, w.target.instrument, w.upper, w.checks.transfers)
            for w in walks
            if w.error is None
        ]
        matches = await match_transfers(session, identity, walked, window, settings, store)
        for walk in walks:
            result = _result(walk, matches)
            done[walk.target.key] = result
            if store is not None:
                retry = walk.transient or (walk.error is None and matches.transient)
                store.save_instrument(walk.target, {"result": result.to_json(), "retry": retry})
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
        walk.transient = transient(exc)
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


# -- results -----------------------------------------------------------------------------


def _result(walk: _StatementWalk, matching: Matching) -> InstrumentResult:
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
