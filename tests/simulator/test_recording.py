"""What the simulator records of the requests it received."""

from __future__ import annotations

import orjson

from weavr_async.testing import FakeBackOffice, RecordedRequest, SeededIdentity

from .conftest import Api


async def test_each_request_is_recorded_as_received_with_its_status(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=3)
    await api.login(corp)
    params = [("transactionType", "DEPOSIT"), ("transactionType", "TRANSFER")]
    await api.call("GET", f"/managed_accounts/{acct.id}/statement", params=params)
    rec = sim.requests[-1]
    assert isinstance(rec, RecordedRequest)
    assert rec.method == "GET"
    assert rec.path == f"/managed_accounts/{acct.id}/statement"
    assert rec.query == params
    assert rec.headers["api-key"] == sim.api_key
    assert rec.status == 200
    assert rec.operation_id == "managedAccountStatement"
    login = sim.requests[0]
    assert orjson.loads(login.body)["identity"]["id"] == corp.id


async def test_requests_are_counted_by_operation_and_can_be_forgotten(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=3)
    await api.login(corp)
    await api.call("GET", f"/managed_accounts/{acct.id}/statement")
    assert sim.count() == 2
    assert sim.count("managedAccountStatement") == 1
    sim.reset_requests()
    assert sim.count() == 0


async def test_a_request_to_no_operation_is_recorded_without_one(
    sim: FakeBackOffice, api: Api
) -> None:
    r = await api.call("GET", "/nowhere", check=False)
    assert r.status == 404
    assert sim.requests[-1].operation_id is None


async def test_recording_can_be_turned_off(sim: FakeBackOffice, api: Api) -> None:
    sim.record_requests = False
    await api.call("GET", "/transfers")
    assert sim.count() == 0
