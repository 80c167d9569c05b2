"""Bulk processes: submitted, then run at once (``bulk_auto_run``) or step by step."""

from __future__ import annotations

from typing import Any

import orjson

from weavr_async.testing import FakeBackOffice, SeededIdentity, SeededInstrument

from .conftest import Api, funded, transfer_body

SPEND_RULES = "/bulks/managed_cards/_id_/spend_rules"


def transfers_with_a_failure(acct: SeededInstrument, card: SeededInstrument) -> list[Any]:
    """Five transfers of 10..14; the third (amount 0) fails with AMOUNT_INVALID."""
    ops = [{"pathParams": {}, "requestBody": transfer_body(acct, card, 10 + i)} for i in range(5)]
    ops[2]["requestBody"]["destinationAmount"]["amount"] = 0
    return ops


async def counts(api: Api, bulk_id: str) -> tuple[str, dict[str, int]]:
    got = (await api.call("GET", f"/bulks/{bulk_id}")).json
    return got["status"], {c["status"]: c["count"] for c in got["operationStatusCounts"]}


async def test_a_submitted_bulk_waits_to_be_executed(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    r = await api.call("POST", "/bulks/transfers", json=transfers_with_a_failure(acct, card))
    assert r.status == 201
    assert r.json["operationCount"] == 5
    bulk_id = r.json["bulkId"]
    got = (await api.call("GET", f"/bulks/{bulk_id}")).json
    assert got["status"] == "SUBMITTED"
    assert got["submittedItemsCount"] == 5
    r = await api.call("POST", f"/bulks/{bulk_id}/pause")
    assert r.json == {"errorCode": "INVALID_STATE"}
    assert sim.instrument_balance(card) == 0


async def test_on_failure_continue_runs_every_operation(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    ops = transfers_with_a_failure(acct, card)
    bulk_id = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    r = await api.call("POST", f"/bulks/{bulk_id}/execute", json={"mode": "ON_FAILURE_CONTINUE"})
    assert r.status == 204
    got = (await api.call("GET", f"/bulks/{bulk_id}")).json
    assert got["status"] == "PARTIALLY_COMPLETED"
    assert got["mode"] == "ON_FAILURE_CONTINUE"
    _, by_status = await counts(api, bulk_id)
    assert by_status["COMPLETED"] == 4
    assert by_status["FAILED"] == 1
    assert sim.instrument_balance(card) == 10 + 11 + 13 + 14


async def test_each_operation_keeps_its_request_and_answer(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    ops = transfers_with_a_failure(acct, card)
    bulk_id = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    await api.call("POST", f"/bulks/{bulk_id}/execute", json={})
    path = f"/bulks/{bulk_id}/operations"
    listing = (await api.call("GET", path, params={"limit": 3})).json
    assert listing["count"] == 5
    assert [o["sequence"] for o in listing["operations"]] == [1, 2, 3]
    failed = listing["operations"][2]
    assert failed["status"] == "FAILED"
    assert orjson.loads(failed["responsePayload"]) == {"errorCode": "AMOUNT_INVALID"}
    assert orjson.loads(listing["operations"][0]["requestPayload"]) == ops[0]["requestBody"]
    assert (await api.call("GET", path, params={"status": "FAILED"})).json["count"] == 1
    seq = (await api.call("GET", path, params={"sequence": 4})).json
    assert seq["operations"][0]["sequence"] == 4


async def test_a_bulk_is_executed_once(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    ops = transfers_with_a_failure(acct, card)
    bulk_id = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    assert (await api.call("POST", f"/bulks/{bulk_id}/execute", json={})).status == 204
    again = await api.call("POST", f"/bulks/{bulk_id}/execute", json={})
    assert again.json == {"errorCode": "INVALID_STATE"}


async def test_on_failure_stop_cancels_what_follows_the_first_failure(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    ops = transfers_with_a_failure(acct, card)
    stop_id = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    await api.call("POST", f"/bulks/{stop_id}/execute", json={"mode": "ON_FAILURE_STOP"})
    status, by_status = await counts(api, stop_id)
    assert status == "PARTIALLY_COMPLETED"
    assert (by_status["COMPLETED"], by_status["FAILED"], by_status["CANCELLED"]) == (2, 1, 2)


async def test_bulks_are_listed_newest_first_and_by_status(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    ops = transfers_with_a_failure(acct, card)
    first = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    second = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    await api.call("POST", f"/bulks/{first}/execute", json={})
    await api.call("POST", f"/bulks/{second}/execute", json={})
    all_bulks = (await api.call("GET", "/bulks")).json
    assert [b["bulkId"] for b in all_bulks["bulkProcesses"]] == [second, first]
    assert (await api.call("GET", "/bulks", params={"status": "SUBMITTED"})).json["count"] == 0


async def test_invalid_bulk_requests_are_400_with_syntax_errors(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    assert (await api.call("GET", "/bulks", params={"status": "NOPE"})).status == 400
    # An empty bulk's 400 is one the contract does not declare (see contract.UNDECLARED_RESPONSES).
    r = await api.call("POST", "/bulks/transfers", json=[], check=False)
    assert r.status == 400
    assert r.json["syntaxErrors"]["invalidFields"]
    r = await api.call(
        "PATCH", SPEND_RULES, json=[{"pathParams": {"_id_": "x"}, "requestBody": {}}], check=False
    )
    assert r.status == 400
    ops = [{"requestBody": transfer_body(acct, card, 1)}]
    bulk_id = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    r = await api.call("POST", f"/bulks/{bulk_id}/execute", json={"mode": "SOMETIMES"})
    assert r.status == 400
    assert r.json["syntaxErrors"]["invalidFields"][0]["fieldName"] == "mode"


async def test_an_unknown_bulk_is_404_another_identitys_403(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    assert (await api.call("GET", "/bulks/123")).status == 404
    ops = [{"requestBody": transfer_body(acct, card, 1)}]
    bulk_id = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    other = Api(sim, api.session)
    await other.login(sim.add_identity("CORPORATE"))
    assert (await other.call("GET", f"/bulks/{bulk_id}")).status == 403


async def spend_rule_bulk(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity, cards: int
) -> tuple[str, list[SeededInstrument]]:
    acct = sim.add_managed_account(corp)
    made = [
        sim.add_managed_card(corp, mode="DEBIT_MODE", parent_account=acct) for _ in range(cards)
    ]
    limit = {"value": {"currency": "EUR", "amount": 700}, "interval": "MONTHLY"}
    ops = [{"pathParams": {"_id_": c.id}, "requestBody": {"spendLimit": [limit]}} for c in made]
    r = await api.call("PATCH", SPEND_RULES, json=ops)
    assert r.status == 201
    return r.json["bulkId"], made


async def test_without_auto_run_a_bulk_runs_as_far_as_advanced(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    sim.bulk_auto_run = False
    await api.login(corp)
    bulk_id, cards = await spend_rule_bulk(sim, api, corp, 6)
    assert (await api.call("POST", f"/bulks/{bulk_id}/execute", json={})).status == 204
    assert (await api.call("GET", f"/bulks/{bulk_id}")).json["status"] == "RUNNING"
    assert sim.advance_bulks(2) == 2
    assert (await api.call("POST", f"/bulks/{bulk_id}/pause")).status == 204
    r = await api.call("POST", f"/bulks/{bulk_id}/pause")
    assert r.json == {"errorCode": "INVALID_STATE"}
    assert sim.advance_bulks(5) == 0  # paused bulks do not advance
    assert (await api.call("POST", f"/bulks/{bulk_id}/resume")).status == 204
    assert sim.advance_bulks(1) == 1
    assert (await api.call("POST", f"/bulks/{bulk_id}/cancel")).status == 204
    got = (await api.call("GET", f"/bulks/{bulk_id}")).json
    _, by_status = await counts(api, bulk_id)
    assert got["status"] == "CANCELLED"
    assert by_status["COMPLETED"] == 3
    assert by_status["CANCELLED"] == 3
    assert "executionFinish" in got
    r = await api.call("POST", f"/bulks/{bulk_id}/resume")
    assert r.json == {"errorCode": "INVALID_STATE"}
    for i, card in enumerate(cards):
        rules = (await api.call("GET", f"/managed_cards/{card.id}/spend_rules")).json
        assert bool(rules["cardLevelSpendRules"]) == (i < 3)


async def test_without_auto_run_advancing_far_enough_completes_a_bulk(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    sim.bulk_auto_run = False
    await api.login(corp)
    bulk_id, _cards = await spend_rule_bulk(sim, api, corp, 2)
    await api.call("POST", f"/bulks/{bulk_id}/execute", json={"mode": "ON_FAILURE_STOP"})
    assert sim.advance_bulks(10) == 2
    assert (await api.call("GET", f"/bulks/{bulk_id}")).json["status"] == "COMPLETED"
