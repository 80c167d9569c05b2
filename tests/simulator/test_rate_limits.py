"""The simulator's own rate limiter (``set_rate_limit``): fixed windows, 429 when full."""

from __future__ import annotations

import asyncio

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api


async def test_a_full_window_answers_429_with_its_limit_and_reset(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.set_rate_limit(3, window=2)
    answers = [await api.call("GET", "/transfers", check=False) for _ in range(5)]
    assert [r.status for r in answers] == [200, 200, 200, 429, 429]
    limited = answers[3]
    assert limited.headers["x-ratelimit-limit"] == "3, 3;w=2"
    assert 1 <= int(limited.headers["x-ratelimit-reset"]) <= 2
    assert sim.faults.injected["rate_limiter"] == 2


async def test_the_next_window_admits_requests_again(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.set_rate_limit(2, window=0.2)
    await api.call("GET", "/transfers")
    await api.call("GET", "/transfers")
    assert (await api.call("GET", "/transfers", check=False)).status == 429
    await asyncio.sleep(0.25)
    assert (await api.call("GET", "/transfers")).status == 200


async def test_no_limit_admits_everything(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.set_rate_limit(1, window=60)
    await api.call("GET", "/transfers")
    sim.set_rate_limit(None)
    for _ in range(5):
        assert (await api.call("GET", "/transfers")).status == 200
