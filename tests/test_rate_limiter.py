"""Client-wide rate limiting: one 429 slows the whole client, not each task on its own."""

from __future__ import annotations

import asyncio

from weavr_async import BackOffice, Identity, Retry
from weavr_async._transport import RateLimiter, parse_rate_limit
from weavr_async.testing import FakeBackOffice


def test_the_exceeded_limit_and_its_window_are_read_from_the_header() -> None:
    assert parse_rate_limit({"x-ratelimit-limit": "20, 10;w=60, 20;w=3600"}) == (20, 3600.0)
    assert parse_rate_limit({"x-ratelimit-limit": "5, 5;w=2"}) == (5, 2.0)
    assert parse_rate_limit({"x-ratelimit-limit": "7"}) == (7, 1.0)
    assert parse_rate_limit({"x-ratelimit-limit": "lots"}) is None
    assert parse_rate_limit({}) is None


async def test_after_a_429_request_starts_are_paced_then_relax() -> None:
    limiter = RateLimiter()
    assert await limiter.wait() == 0.0
    limiter.limited(0.0, (10, 0.02))  # 10 per 20 ms: a start every 2 ms, with a 10% margin
    assert limiter.interval == 0.0022
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(limiter.wait() for _ in range(6)))
    assert loop.time() - started >= 5 * 0.0022  # five gaps between six starts
    limiter.succeeded()
    assert limiter.interval == 0.0022  # not yet: relaxing waits for quiet windows
    await asyncio.sleep(0.02 * RateLimiter.RELAX_AFTER_WINDOWS + 0.01)
    limiter.succeeded()
    assert limiter.interval == 0.0022 * 0.75


async def test_disabled_limiter_never_waits() -> None:
    limiter = RateLimiter(adaptive=False)
    limiter.limited(5.0, (1, 10.0))
    assert await limiter.wait() == 0.0


async def _burst(fake: FakeBackOffice, corp: Identity, *, adaptive: bool) -> tuple[int, int]:
    """Four concurrent walks against a server allowing 10 requests per 0.25 s window."""
    accounts = [fake.add_managed_account(corp.id, currency="EUR", history=600) for _ in range(4)]
    retry = Retry(max_attempts=60, base_delay=0.01, max_delay=0.05, adaptive_rate_limit=adaptive)
    async with BackOffice(api_key=fake.api_key, base_url=fake.url, retry=retry) as client:
        acme = client.identity(corp)
        await acme.managed_accounts.get(accounts[0].id)
        fake.set_rate_limit(10, window=0.25)
        before = fake.faults.injected["rate_limiter"]
        walks = [
            acme.managed_accounts.statement(a.id, page_size=50, concurrency=4).collect()
            for a in accounts
        ]
        results = await asyncio.gather(*walks)
        fake.set_rate_limit(None)
    assert [len(r) for r in results] == [600] * 4
    return fake.faults.injected["rate_limiter"] - before, client.stats.rate_limited


async def test_a_burst_under_a_server_limit_meets_far_fewer_429s() -> None:
    counts = {}
    for adaptive in (False, True):
        async with FakeBackOffice(seed=11) as fake:
            ident = fake.add_identity("CORPORATE")
            server_429s, client_429s = await _burst(
                fake, Identity.corporate(ident.id), adaptive=adaptive
            )
            assert server_429s == client_429s
            counts[adaptive] = server_429s
    naive, adaptive_count = counts[False], counts[True]
    assert naive >= 20
    assert adaptive_count * 3 <= naive, counts  # measured: 48-52 against 11, in half the time
