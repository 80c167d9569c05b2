"""Injected faults: scripted and random errors, 429s, drops, malformed bodies, slowness."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api, funded, transfer_body


async def test_a_scripted_error_answers_the_next_requests(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.faults.script(status=503, count=2)
    assert (await api.call("GET", "/transfers")).status == 503
    assert (await api.call("GET", "/transfers")).status == 503
    assert (await api.call("GET", "/transfers")).status == 200
    assert sim.faults.injected["error"] == 2
    assert sim.faults.pending == 0


async def test_a_scripted_error_for_one_operation_waits_for_it(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.faults.script(status=500, count=1, operation_id="transferGet", body={"code": "X"})
    assert (await api.call("GET", "/transfers")).status == 200
    r = await api.call("GET", "/transfers/1", check=False)
    assert r.status == 500
    assert r.json == {"code": "X"}


async def test_a_scripted_429_advertises_a_limit_and_its_reset(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.faults.script_rate_limit(count=1, reset=3)
    r = await api.call("GET", "/transfers", check=False)
    assert r.status == 429
    assert r.headers["x-ratelimit-reset"] == "3"
    assert r.headers["x-ratelimit-limit"] == sim.faults.rate_limit_header == "1000, 1000;w=1"
    assert sim.faults.injected["rate_limit"] == 1


def test_a_script_for_an_unknown_operation_is_refused(sim: FakeBackOffice) -> None:
    with pytest.raises(ValueError, match="unknown operationId: 'transferCreated'"):
        sim.faults.script(operation_id="transferCreated")  # a typo, caught


async def test_a_drop_before_the_handler_commits_nothing(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    sim.faults.script_drop(count=1, operation_id="transferCreate")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "/transfers", json=transfer_body(acct, card, 5))
    assert sim.instrument_balance(card) == 0
    assert sim.faults.injected["drop"] == 1


async def test_a_drop_after_commit_keeps_the_effect_and_a_retry_replays_it(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    body = transfer_body(acct, card, 5)
    ref = {"idempotency-ref": "drop-1"}
    sim.faults.script_drop(count=1, operation_id="transferCreate", after_commit=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "/transfers", json=body, headers=ref)
    assert sim.instrument_balance(card) == 5  # committed before the drop
    retry = await api.call("POST", "/transfers", json=body, headers=ref)
    assert retry.status == 200
    assert sim.instrument_balance(card) == 5
    assert sim.idempotent_replays == 1
    assert sim.faults.injected["drop_after_commit"] == 1


async def test_dropped_requests_are_recorded_with_status_0(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    body = transfer_body(acct, card, 5)
    sim.faults.script_drop(count=1, operation_id="transferCreate")
    sim.faults.script_drop(count=1, operation_id="transferCreate", after_commit=True)
    for _ in range(2):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await api.call("POST", "/transfers", json=body)
    await api.call("POST", "/transfers", json=body)
    statuses = [r.status for r in sim.requests if r.operation_id == "transferCreate"]
    assert statuses == [0, 0, 200]


async def test_malformed_answers_are_200s_with_broken_bodies(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.faults.script_malformed(kind="truncated")
    sim.faults.script_malformed(kind="garbage")
    sim.faults.script_malformed(kind="html")
    r1 = await api.call("GET", "/transfers", check=False)
    r2 = await api.call("GET", "/transfers", check=False)
    r3 = await api.call("GET", "/transfers", check=False)
    for r in (r1, r2):
        assert r.status == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(r.body)
    assert r3.status == 200
    assert r3.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError, match="unknown malformed kind: 'weird'"):
        sim.faults.script_malformed(kind="weird")  # type: ignore[arg-type]


async def test_random_faults_are_drawn_from_the_seed(session: aiohttp.ClientSession) -> None:
    async def run(seed: int) -> list[int]:
        async with FakeBackOffice(seed=seed) as fake:
            api = Api(fake, session)
            await api.login(fake.add_identity("CORPORATE"))
            fake.faults.error_rate = 0.3
            fake.faults.rate_limit_rate = 0.1
            out = [(await api.call("GET", "/transfers", check=False)).status for _ in range(40)]
            assert sum(fake.faults.injected.values()) == sum(1 for s in out if s != 200)
            return out

    first, second = await run(9), await run(9)
    assert first == second
    assert {500, 502, 503, 504} & set(first)
    assert 429 in first
    assert 200 in first


async def test_latency_and_slow_requests_delay_the_answer(sim: FakeBackOffice, api: Api) -> None:
    sim.latency = 0.05
    t0 = time.perf_counter()
    await api.call("GET", "/transfers")
    assert time.perf_counter() - t0 >= 0.05
    sim.latency = 0
    sim.faults.slow_rate, sim.faults.slow_seconds = 1.0, 0.05
    t0 = time.perf_counter()
    await api.call("GET", "/transfers")
    assert time.perf_counter() - t0 >= 0.05
    assert sim.faults.injected["slow"] == 1
    sim.faults.clear()
    assert sim.faults.slow_rate == 0
