"""Two processes on one API key: with one Redis budget they stay within the API's windows;
with a budget each, they meet many 429s. Real processes, a real redis-server, the simulator
enforcing its windows per key, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys

import orjson

from weavr_async.testing import FakeBackOffice

# The simulator's windows (fixed, as the API counts them), scaled down in time; the clients'
# budget is 5% wider in time: a start is recorded just before its request travels.
SERVER_LIMITS = [(20, 1.0), (45, 3.0)]
CLIENT_LIMITS = [(20, 1.05), (45, 3.15)]
CALLS = 30  # per process: 60 in all, three windows' worth of the tighter limit

WORKER = r"""
import asyncio, os, sys, orjson
from weavr_async import BackOffice, Identity, RateBudget, Retry

async def main() -> None:
    cfg = orjson.loads(os.environ["BUDGET_TEST"])
    limits = [tuple(pair) for pair in cfg["limits"]]
    if cfg["redis"]:
        budget = RateBudget.redis(cfg["redis"], limits=limits, key="budget-test")
    else:
        budget = RateBudget(limits)
    retry = Retry(max_attempts=10, base_delay=0.01, max_delay=0.05, max_rate_limit_wait=None)
    async with BackOffice(os.environ["WEAVR_API_KEY"], base_url=cfg["url"], retry=retry,
                          budget=budget) as bo:
        session = bo.identity(Identity.corporate(cfg["identity"]))
        for _ in range(cfg["calls"]):
            await session.managed_accounts.get(cfg["account"])
        print(orjson.dumps({"requests": bo.stats.requests,
                            "rate_limited": bo.stats.rate_limited}).decode())
    await budget.aclose()

asyncio.run(main())
"""


async def _two_processes(fake: FakeBackOffice, redis: str | None) -> tuple[int, int]:
    """Requests sent and 429s met by two processes together."""
    ident = fake.add_identity("CORPORATE")
    account = fake.add_managed_account(ident, currency="EUR")
    config = {
        "url": fake.url,
        "identity": ident.id,
        "account": account.id,
        "calls": CALLS,
        "limits": CLIENT_LIMITS,
        "redis": redis,
    }
    env = {
        **os.environ,
        "WEAVR_API_KEY": fake.api_key,
        "BUDGET_TEST": orjson.dumps(config).decode(),
    }
    fake.set_rate_limits(SERVER_LIMITS)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER, env=env, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
    fake.set_rate_limits(None)
    assert all(p.returncode == 0 for p in procs)
    reports = [orjson.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    return sum(r["requests"] for r in reports), sum(r["rate_limited"] for r in reports)


async def test_two_processes_sharing_a_redis_budget_meet_no_429s_where_two_alone_meet_many(
    redis_url: str,
) -> None:
    async with FakeBackOffice(seed=3) as fake:
        shared_requests, shared_429s = await _two_processes(fake, redis_url)
    async with FakeBackOffice(seed=3) as fake:
        alone_requests, alone_429s = await _two_processes(fake, None)
    print(
        f"\n2 processes x {CALLS} calls under {SERVER_LIMITS}: shared Redis budget "
        f"{shared_429s} 429s in {shared_requests} requests; a budget each "
        f"{alone_429s} 429s in {alone_requests} requests"
    )
    assert shared_429s <= shared_requests // 100  # < 1%
    assert alone_429s >= 3  # measured 6: each closes that process for its reset, then it learns
