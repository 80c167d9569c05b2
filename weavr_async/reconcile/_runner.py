"""Running the job in this process: identities reconciled concurrently through one client.

Work is grouped by identity (each identity's token is obtained once, its transfers walked
once); at most `identities_at_once` identities are under way, each walking up to
`JobSettings.instruments_at_once` statements, all within the client's `max_concurrency`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..client import BackOffice
from ..errors import BudgetExhausted
from ..models import Identity
from ._input import Target
from ._job import reconcile_identity
from ._result import InstrumentResult
from ._settings import ALL_TIME, DEFAULT_SETTINGS, JobSettings, ProgressCallback, Window
from ._store import StateStore

__all__ = ["Plan", "Report", "group_by_identity", "open_store", "plan", "reconcile"]

ResultCallback = Callable[[InstrumentResult], None]


@attrs.frozen
class Report:
    """What a run found: the results of the instruments it finished (in input order) and,
    when it stopped before the end, why (`stopped`) and how many it left (`pending`)."""

    results: list[InstrumentResult]
    stopped: str | None = None
    pending: int = 0

    @property
    def ok(self) -> bool:
        """Every instrument reconciled and every book holds."""
        return self.stopped is None and not self.pending and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        """0: every book holds; 1: a check failed or an instrument could not be checked;
        3: the run stopped before the end (its state saved, if it had a state directory)."""
        if self.stopped is not None or self.pending:
            return 3
        return 0 if self.ok else 1


@attrs.frozen
class Plan:
    """What a run has to do before it starts: identities and instruments, how many are done
    already (a resumed run), and the fewest requests the rest can take (a token, a first
    transfers page per identity; a snapshot probe and a first page per statement)."""

    identities: int
    instruments: int
    finished: int
    min_requests: int


def group_by_identity(targets: Sequence[Target]) -> list[tuple[Identity, list[Target]]]:
    """The targets of each identity, identities in order of first appearance."""
    groups: dict[Identity, list[Target]] = {}
    for target in targets:
        groups.setdefault(target.identity, []).append(target)
    return list(groups.items())


def open_store(
    state: StateStore | str | os.PathLike[str] | None, window: Window
) -> StateStore | None:
    """The run's state store, bound to `window` (StateError when it holds another run's)."""
    if state is None:
        return None
    store = state if isinstance(state, StateStore) else StateStore(Path(state))
    store.bind({"window": window.to_json()})
    return store


def plan(targets: Sequence[Target], store: StateStore | None = None) -> Plan:
    groups = group_by_identity(targets)
    finished = 0
    requests = 0
    for _, mine in groups:
        left = 0
        for target in mine:
            saved = store.load_instrument(target) if store is not None else None
            if saved is not None and saved.get("result") is not None:
                finished += 1
            else:
                left += 1
        if left:
            requests += 2 + 2 * left
    return Plan(len(groups), len(targets), finished, requests)


async def reconcile(
    bo: BackOffice,
    targets: Sequence[Target],
    *,
    window: Window = ALL_TIME,
    settings: JobSettings = DEFAULT_SETTINGS,
    state: StateStore | str | os.PathLike[str] | None = None,
    identities_at_once: int = 8,
    on_progress: ProgressCallback | None = None,
    on_result: ResultCallback | None = None,
) -> Report:
    """Reconcile `targets` through `bo`, in this process.

    With `state` (a directory or a `StateStore`), every walk checkpoints there and a later
    call with the same window continues where this one stopped. An exhausted budget stops
    the run (`Report.stopped`); cancelling the task stops it too, after the state is saved.
    """
    if identities_at_once < 1:
        raise ValueError("identities_at_once must be at least 1")
    store = open_store(state, window)
    groups = group_by_identity(targets)
    found: dict[str, InstrumentResult] = {}
    slots = asyncio.Semaphore(identities_at_once)

    async def one(identity: Identity, mine: list[Target]) -> None:
        async with slots:
            results = await reconcile_identity(
                bo,
                identity,
                mine,
                window=window,
                settings=settings,
                store=store,
                on_progress=on_progress,
            )
        for result in results:
            found[result.target.key] = result
            if on_result is not None:
                on_result(result)

    stopped = await run_all([one(identity, mine) for identity, mine in groups])
    results = [found[t.key] for t in targets if t.key in found]
    return Report(results, stopped, len(targets) - len(results))


async def run_all(work: Sequence[Coroutine[Any, Any, None]]) -> str | None:
    """Run the coroutines concurrently until all are done or one meets an exhausted budget;
    then cancel the others (each saves its state) and say why it stopped."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                exc = task.exception()
                if isinstance(exc, BudgetExhausted):
                    return f"the API budget is exhausted: {exc}"
                if exc is not None:
                    raise exc
        return None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
