"""`weavr-async demo`: seed the simulator with large histories, walk every statement and
transfer list concurrently through one client, reconcile each walk as it goes, and report."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from typing import TYPE_CHECKING

import aiohttp
import attrs

from weavr_async import RateBudget

from .. import BackOffice, Identity, Retry
from . import _args
from ._progress import Bar, ProgressBoard
from ._shutdown import EXIT_INTERRUPTED, Interrupted, interruptible
from ._tally import RequestTally
from ._walks import WalkPlan, WalkResult, summary_table, walk

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
    # Sporadic 429s that say "retry now": the client's budget would otherwise rightly pause
    # every walk for each one's reset, and a demo is about the walks.
    fake.faults.rate_limit_reset = 0
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
    # Retries wait milliseconds and a 429 holds the client back for at most 0.2 s: the demo
    # shows the mechanisms at work (client-wide rate limiting included) without spending its
    # minute asleep.
    retry = Retry(max_attempts=8, base_delay=0.01, max_delay=0.2, max_rate_limit_wait=2.0)
    page_concurrency = max(2, min(8, options.concurrency // 4))
    try:
        async with BackOffice(
            fake.api_key,
            base_url=fake.url,
            session=session,
            retry=retry,
            max_concurrency=options.concurrency,
            page_concurrency=page_concurrency,
            budget=RateBudget.unlimited(),
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
