"""The demo's walks: one statement or transfer list each, reconciled page by page, and the
summary table of their figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import attrs

from .. import BackOffice, Identity, Stream, WeavrError
from ..models import StatementEntry
from ._progress import Bar
from ._reconcile import StatementCheck, TransferCheck
from ._table import Table
from ._tally import RequestTally

__all__ = ["WalkPlan", "WalkResult", "summary_table", "walk"]


@attrs.frozen
class WalkPlan:
    """One walk to make: a statement (kind account/card) or an identity's transfers."""

    identity: Identity
    kind: str
    instrument_id: str = ""
    size: int = 0

    @property
    def owner(self) -> str:
        return f"{self.identity.type.lower()} {self.identity.id}"

    @property
    def name(self) -> str:
        return "transfers" if self.kind == "transfers" else f"{self.kind} {self.instrument_id}"


@attrs.define
class WalkResult:
    """What one walk found: its figures and any reconciliation failure."""

    plan: WalkPlan
    entries: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    total: int | None = None
    seconds: float = 0.0
    problems: list[str] = attrs.field(factory=list)

    @property
    def key(self) -> str:
        return f"{self.plan.owner}/{self.plan.name}"

    @property
    def ok(self) -> bool:
        return not self.problems


async def walk(
    client: BackOffice,
    result: WalkResult,
    tally: RequestTally,
    results: list[WalkResult],
    bars: dict[str, Bar],
) -> None:
    """One walk, reconciled page by page; failures become the result's problems."""
    RequestTally.tag(result.key)
    bar = bars[result.plan.owner]
    siblings = [r for r in results if r.plan.owner == result.plan.owner]
    begun = time.monotonic()
    try:
        if result.plan.kind == "transfers":
            await walk_transfers(client, result, lambda: refresh(bar, siblings))
        else:
            await walk_statement(client, result, lambda: refresh(bar, siblings))
    except WeavrError as exc:
        result.problems.append(f"failed: {type(exc).__name__}: {exc}")
    except asyncio.CancelledError:
        result.problems.append("interrupted")
        raise
    finally:
        result.seconds = time.monotonic() - begun
        if result.total is None:
            result.total = result.entries
        refresh(bar, siblings)


def refresh(bar: Bar, results: list[WalkResult]) -> None:
    bar.done = sum(r.entries for r in results)
    totals = [r.total for r in results]
    bar.total = None if any(t is None for t in totals) else sum(t or 0 for t in totals)
    bar.finished = all(r.seconds for r in results)
    failed = sum(1 for r in results if r.problems)
    bar.note = f"{failed} failed" if failed else ""


async def walk_statement(
    client: BackOffice, result: WalkResult, report: Callable[[], None]
) -> None:
    plan = result.plan
    session = client.identity(plan.identity)
    resource = session.managed_accounts if plan.kind == "account" else session.managed_cards
    stream = resource.statement(plan.instrument_id, order="ASC")
    check = StatementCheck()
    try:
        await _walk_statement_pages(stream, check, result, report)
    finally:
        result.requests = stream.progress.requests
    result.problems.extend(check.problems())


async def _walk_statement_pages(
    stream: Stream[StatementEntry],
    check: StatementCheck,
    result: WalkResult,
    report: Callable[[], None],
) -> None:
    async for page in stream.pages():
        check.add_page(
            page.items,
            count=page.count,
            start_balance=None if page.start_balance is None else page.start_balance.amount,
            end_balance=None if page.end_balance is None else page.end_balance.amount,
        )
        result.entries, result.pages, result.total = check.entries, check.pages, check.expected
        report()


async def walk_transfers(
    client: BackOffice, result: WalkResult, report: Callable[[], None]
) -> None:
    stream = client.identity(result.plan.identity).transfers.list()
    check = TransferCheck()
    try:
        async for page in stream.pages():
            check.add_page(page.items, count=page.count)
            result.entries, result.pages = check.entries, check.pages
            result.total = check.expected
            report()
    finally:
        result.requests = stream.progress.requests
    result.problems.extend(check.problems())


def summary_table(results: list[WalkResult], elapsed: float) -> str:
    """Per walk, per identity and overall: entries, pages, retries, time, rate, result."""
    table = Table(
        ("identity", "walk", "entries", "pages", "retries", "seconds", "entries/s", "result"),
        numeric=frozenset({"entries", "pages", "retries", "seconds", "entries/s"}),
    )
    owners = list(dict.fromkeys(r.plan.owner for r in results))
    for number, owner in enumerate(owners):
        mine = [r for r in results if r.plan.owner == owner]
        for index, r in enumerate(mine):
            table.add(_row(owner, r.plan.name, [r], r.seconds), rule_above=index == 0 < number)
        span = max(r.seconds for r in mine)
        table.add(_row(owner, "all", mine, span))
    table.add(_row("total", f"{len(results)} walks", results, elapsed), rule_above=True)
    return table.render()


def _row(owner: str, name: str, results: list[WalkResult], seconds: float) -> list[object]:
    entries = sum(r.entries for r in results)
    failed = [r for r in results if not r.ok]
    if not failed:
        verdict = "OK"
    elif len(results) == 1:
        verdict = "; ".join(failed[0].problems)
    elif all(r.problems == ["interrupted"] for r in failed):
        verdict = f"{len(failed)} interrupted"
    else:
        verdict = f"{len(failed)} FAILED"
    return [
        owner,
        name,
        f"{entries:,}",
        f"{sum(r.pages for r in results):,}",
        f"{sum(r.retries for r in results):,}",
        f"{seconds:.2f}",
        f"{entries / seconds if seconds > 0 else 0:,.0f}",
        verdict,
    ]
