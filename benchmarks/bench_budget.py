"""What a walk spends of the API budget: requests per 1,000 entries against the minimum, and
429s met under Weavr's standard limits (scaled down in time) with and without proactive pacing.

Requests, not CPU, are what a real walk spends: at 100 requests a minute a wasted request is
a lost 0.6 s. `python -m benchmarks budget`.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Literal

from weavr_async import BackOffice, Identity, RateBudget, Retry, Stream
from weavr_async.testing import FakeBackOffice

from ._table import print_table

# Weavr's standard limits (100/min, 1,000/h, 10,000/day), time scaled down 100x.
SCALE = 100.0
STANDARD = [(100, 60.0 / SCALE), (1_000, 3_600.0 / SCALE), (10_000, 86_400.0 / SCALE)]
RETRY = Retry(max_attempts=20, base_delay=0.01, max_delay=0.1, max_rate_limit_wait=None)


async def _requests_per_walk(
    kind: str, order: Literal["ASC", "DESC"], entries: int
) -> tuple[int, int]:
    """Requests one walk of `entries` sends (the token request excluded), and the minimum."""
    async with FakeBackOffice(seed=5) as fake:
        ident = fake.add_identity("CORPORATE")
        identity = Identity.corporate(ident.id)
        async with BackOffice(
            fake.api_key, base_url=fake.url, retry=RETRY, budget=RateBudget.unlimited()
        ) as bo:
            acme = bo.identity(identity)
            if kind == "account":
                account = fake.add_managed_account(ident, currency="EUR", history=entries)
                cap = 500
                stream: Stream[Any] = acme.managed_accounts.statement(account.id, order=order)
            elif kind == "card":
                card = fake.add_managed_card(ident, currency="EUR", history=entries)
                cap = 100
                stream = acme.managed_cards.statement(card.id, order=order)
            else:
                for _ in range(2):
                    fake.add_managed_account(ident, currency="EUR", history=10)
                fake.add_transfers(ident.id, count=entries)
                cap = 100
                stream = acme.transfers.list()
            before = bo.stats.requests
            got = 0
            async for _ in stream.raw():
                got += 1
            assert got == entries, (kind, got, entries)
            sent = bo.stats.requests - before - bo.token_requests
        return sent, math.ceil(entries / cap)


async def _throttled_walks(proactive: bool) -> tuple[int, int, float]:
    """Four concurrent walks (120 page requests) against the scaled standard limits: 429s,
    requests sent, seconds."""
    async with FakeBackOffice(seed=6) as fake:
        ident = fake.add_identity("CORPORATE")
        identity = Identity.corporate(ident.id)
        cards = [fake.add_managed_card(ident, currency="EUR", history=3_000) for _ in range(4)]
        fake.set_rate_limits(STANDARD)
        budget = (
            RateBudget([(n, w * 1.05) for n, w in STANDARD])
            if proactive
            else RateBudget.unlimited()
        )
        started = time.perf_counter()
        async with BackOffice(fake.api_key, base_url=fake.url, retry=RETRY, budget=budget) as bo:
            acme = bo.identity(identity)
            walks = [acme.managed_cards.statement(c.id, concurrency=8).collect() for c in cards]
            results = await asyncio.gather(*walks)
            assert [len(r) for r in results] == [3_000] * 4
            seconds = time.perf_counter() - started
            return bo.stats.rate_limited, bo.stats.requests, seconds


def main() -> None:
    rows = []
    walks: tuple[tuple[str, Literal["ASC", "DESC"], int], ...] = (
        ("account", "DESC", 20_000),
        ("account", "ASC", 20_000),
        ("card", "DESC", 5_000),
        ("transfers", "DESC", 5_000),
    )
    for kind, order, entries in walks:
        sent, minimum = asyncio.run(_requests_per_walk(kind, order, entries))
        rows.append(
            (
                f"{kind} {order}, {entries:,} entries",
                sent,
                minimum,
                round(1_000 * sent / entries, 2),
                round(1_000 * minimum / entries, 2),
            )
        )
    print_table(
        "Requests per walk (token excluded) against the minimum ceil(n / page cap)",
        ["walk", "requests", "minimum", "per 1,000 entries", "minimum per 1,000"],
        rows,
    )
    throttled = []
    for proactive in (False, True):
        limited, requests, seconds = asyncio.run(_throttled_walks(proactive))
        name = (
            "budget of the standard limits (proactive)" if proactive else "learning from 429s only"
        )
        throttled.append((name, limited, requests, round(seconds, 2)))
    print_table(
        "4 concurrent card walks (12,000 entries) under the standard limits scaled 100x down",
        ["client", "429s met", "requests", "seconds"],
        throttled,
    )


if __name__ == "__main__":
    main()
