"""Serving: the routes, the port, starting and stopping, and what the seed decides."""

from __future__ import annotations

import aiohttp

from weavr_async.testing import BASE_PATH, FakeBackOffice
from weavr_async.testing.contract import operation_for, operation_ids

from .conftest import Api


def test_operation_ids_are_the_contracts_and_name_the_routes() -> None:
    ops = FakeBackOffice.operation_ids()
    assert len(ops) == 32
    assert ops == operation_ids()
    routes = [r for r in FakeBackOffice().make_app().router.routes() if r.name]
    assert {r.name for r in routes} == ops
    for route in routes:
        assert route.resource is not None
        path = route.resource.canonical.removeprefix(BASE_PATH)
        concrete = path.replace("{", "1").replace("}", "")
        assert operation_for(route.method, concrete) in (route.name, None)


async def test_it_serves_on_a_free_loopback_port() -> None:
    async with FakeBackOffice(seed=11) as a, FakeBackOffice(seed=11) as b:
        assert a.url.startswith("http://127.0.0.1:")
        assert a.url.endswith("/multi/backoffice")
        assert a.port != 0
        assert a.port != b.port


async def test_the_seed_decides_the_api_key_ids_and_histories() -> None:
    async with FakeBackOffice(seed=11) as a, FakeBackOffice(seed=11) as b:
        assert a.api_key == b.api_key
        ia, ib = a.add_identity("CONSUMER"), b.add_identity("CONSUMER")
        assert ia == ib
        assert ia.identity_type == "CONSUMER"
        ma = a.add_managed_account(ia, history=300)
        mb = b.add_managed_account(ib, history=300)
        assert ma == mb
        assert a.ledger(ma) == b.ledger(mb)
    async with FakeBackOffice(seed=12) as c:
        assert c.add_identity("CONSUMER") != ia


async def test_an_api_key_given_is_the_one_it_takes() -> None:
    async with FakeBackOffice(seed=12, api_key="k") as fake:
        assert fake.api_key == "k"


async def test_start_and_close_without_a_context_manager() -> None:
    fake = FakeBackOffice()
    await fake.start()
    try:
        async with aiohttp.ClientSession() as s, s.get(fake.url + "/transfers") as r:
            assert r.status == 401
    finally:
        await fake.close()


def test_histories_end_where_history_end_ms_says() -> None:
    end = 1_600_000_000_000
    fake = FakeBackOffice(seed=4, history_end_ms=end)
    ident = fake.add_identity("CONSUMER")
    acct = fake.add_managed_account(ident, history=100)
    ledger = fake.ledger(acct)
    assert ledger[-1]["processedTimestamp"] < end
    assert ledger[0]["processedTimestamp"] > end - 4 * 365 * 24 * 3600 * 1000


async def test_a_path_of_no_operation_is_404_and_a_method_it_lacks_405(api: Api) -> None:
    r = await api.call("GET", "/nowhere", check=False)
    assert r.status == 404
    assert r.json["code"] == "NOT_FOUND"
    r = await api.call("DELETE", "/transfers", check=False)
    assert r.status == 405
    assert r.json["code"] == "METHOD_NOT_ALLOWED"
