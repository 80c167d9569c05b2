"""`weavr-async demo`: seed the simulator with large histories, walk every statement and
transfer list concurrently through one client, reconcile each walk as it goes, and report."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
import attrs

from .. import BackOffice, Identity, Retry, Stream, WeavrError
from ..models import StatementEntry
from . import _args
from ._progress import Bar, ProgressBoard
from ._reconcile import StatementCheck, TransferCheck
from ._shutdown import EXIT_INTERRUPTED, Interrupted, interruptible
from ._table import Table
from ._tally import RequestTally

if TYPE_CHECKING:  # the simulator is imported only when the demo runs
    from ..testing import FakeBackOffice

__all__ = ["add_parser", "run"]

CURRENCIES = ("EUR", "GBP", "USD")
# Relative sizes of each identity's histories: two accounts, then two cards.
SHARES = (("account", 3.0), ("account", 2.0), ("card", 1.0), ("card", 0.6))


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="walk and reconcile large statements against the in-process simulator",
        description=(
            "Start the simulator, seed identities with accounts and cards holding large "
            "histories plus transfers, then walk every statement (oldest first) and every "
            "transfer list concurrently through one client, with faults and new transactions "
            "arriving mid-walk. Each walk is reconciled on the fly (balances, balance chain, "
            "duplicates, count); exit 0 if all reconcile."
        ),
    )
    parser.add_argument(
        "--identities", type=_args.positive_int, default=6, help="identities (default 6)"
    )
    parser.add_argument(
        "--entries",
        type=_args.positive_int,
        default=300_000,
        help="statement entries in total, over all instruments (default 300,000)",
    )
    parser.add_argument(
        "--concurrency",
        type=_args.positive_int,
        default=32,
        help="requests in flight, client-wide (default 32)",
    )
    parser.add_argument(
        "--faults",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="inject 5xx, 429s and new transactions during the walks (default: on)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated data")
    parser.set_defaults(run=run)


@attrs.frozen
class DemoOptions:
    identities: int
    entries: int
    concurrency: int
    faults: bool
    seed: int


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


def run(args: argparse.Namespace) -> int:
    options = DemoOptions(
        identities=args.identities,
        entries=args.entries,
        concurrency=args.concurrency,
        faults=args.faults,
        seed=args.seed,
    )
    return asyncio.run(demo(options))


def history_sizes(options: DemoOptions) -> list[list[int]]:
    """Entries per instrument, per identity: accounts bigger than cards, summing to the total."""
    rng = random.Random(f"demo:{options.seed}")
    weights = [
        [share * rng.uniform(0.7, 1.3) for _, share in SHARES] for _ in range(options.identities)
    ]
    scale = options.entries / sum(sum(row) for row in weights)
    sizes = [[max(1, int(w * scale)) for w in row] for row in weights]
    sizes[0][0] += options.entries - sum(sum(row) for row in sizes)
    return [[max(1, s) for s in row] for row in sizes]


def seed(fake: FakeBackOffice, options: DemoOptions) -> list[WalkPlan]:
    """Create the identities, instruments and transfers; the walks to make over them."""
    plans: list[WalkPlan] = []
    for index, sizes in enumerate(history_sizes(options)):
        corporate = index % 2 == 0
        seeded = fake.add_identity("CORPORATE" if corporate else "CONSUMER")
        identity = Identity.corporate(seeded.id) if corporate else Identity.consumer(seeded.id)
        currency = CURRENCIES[index % len(CURRENCIES)]
        for (instrument_kind, _), size in zip(SHARES, sizes, strict=True):
            if instrument_kind == "account":
                made = fake.add_managed_account(seeded, currency=currency, history=size)
            else:
                made = fake.add_managed_card(seeded, currency=currency, history=size)
            plans.append(WalkPlan(identity, instrument_kind, made.id, size))
        transfers = max(20, min(2_000, sum(sizes) // 50))
        fake.add_transfers(seeded, count=transfers)
        plans.append(WalkPlan(identity, "transfers", size=transfers))
    return plans


def configure_faults(fake: FakeBackOffice) -> None:
    """A little of everything a real walk meets: 5xx, 429s with reset headers, new entries."""
    fake.faults.error_rate = 0.02
    fake.faults.rate_limit_rate = 0.01
    fake.arrivals_per_statement_request = 1
    fake.arrivals_per_transfers_request = 1


async def demo(options: DemoOptions) -> int:
    from ..testing import FakeBackOffice  # only this command needs the simulator

    started = time.monotonic()
    async with FakeBackOffice(seed=options.seed) as fake:
        fake.record_requests = False  # keep memory flat: the walks make thousands of requests
        plans = seed(fake, options)
        seeded = time.monotonic() - started
        if options.faults:
            configure_faults(fake)
        outcome = await walk_all(fake, plans, options)
        injected = ", ".join(f"{n:,} {kind}" for kind, n in sorted(fake.faults.injected.items()))
    results, elapsed = outcome.results, outcome.elapsed
    print(summary_table(results, elapsed))
    print()
    print(outcome.client_line)
    print(f"simulator injected: {injected or 'nothing'}")
    entries = sum(r.entries for r in results if r.plan.kind != "transfers")
    print(
        f"seeded {sum(p.size for p in plans if p.kind != 'transfers'):,} entries in "
        f"{seeded:.1f} s; walked {entries:,} statement entries in {elapsed:.1f} s "
        f"({entries / elapsed if elapsed else 0:,.0f} entries/s)"
    )
    if outcome.interrupted:
        print("interrupted: the figures above are partial")
        return EXIT_INTERRUPTED
    failed = [r for r in results if not r.ok]
    print("all walks reconciled" if not failed else f"{len(failed)} walk(s) did NOT reconcile")
    return 0 if not failed else 1


@attrs.frozen
class DemoOutcome:
    results: list[WalkResult]
    client_line: str
    elapsed: float
    interrupted: bool


async def walk_all(
    fake: FakeBackOffice, plans: list[WalkPlan], options: DemoOptions
) -> DemoOutcome:
    """Walk everything concurrently through one client (until done or Ctrl-C)."""
    tally = RequestTally()
    connector = aiohttp.TCPConnector(limit=options.concurrency)
    session = aiohttp.ClientSession(connector=connector, trace_configs=[tally.trace_config()])
    results = [WalkResult(plan) for plan in plans]
    board = ProgressBoard(sys.stderr)
    bars: dict[str, Bar] = {}
    for result in results:
        if result.plan.owner not in bars:
            bars[result.plan.owner] = board.add(result.plan.owner)
    # Retries wait milliseconds and a 429 is waited out for at most 0.2 s: the demo shows the
    # mechanisms at work without spending its minute asleep. The simulator's random 429s
    # advertise a limit (20/s) that it does not enforce; adaptive pacing would rightly slow the
    # whole client down to it, so it is off here and each 429 delays only its own request.
    retry = Retry(
        max_attempts=8,
        base_delay=0.01,
        max_delay=0.2,
        max_rate_limit_wait=0.2,
        adaptive_rate_limit=False,
    )
    page_concurrency = max(2, min(8, options.concurrency // 4))
    try:
        async with BackOffice(
            fake.api_key,
            base_url=fake.url,
            session=session,
            retry=retry,
            max_concurrency=options.concurrency,
            page_concurrency=page_concurrency,
        ) as client:
            board.start()
            begun = time.monotonic()
            try:
                await interruptible(walk_every(client, tally, results, bars))
                interrupted = False
            except Interrupted:
                interrupted = True
            elapsed = time.monotonic() - begun
            await board.stop()
            stats = client.stats
            client_line = (
                f"client: {stats.requests:,} requests, {stats.retries:,} retries, "
                f"{stats.rate_limited:,} × 429, "
                f"{client.token_requests:,} token requests, "
                f"max {options.concurrency} in flight"
            )
    finally:
        await session.close()
    for result in results:
        result.retries = max(0, tally.attempts[result.key] - result.requests)
    return DemoOutcome(results, client_line, elapsed, interrupted)


async def walk_every(
    client: BackOffice, tally: RequestTally, results: list[WalkResult], bars: dict[str, Bar]
) -> None:
    await asyncio.gather(*(walk(client, result, tally, results, bars) for result in results))


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
