"""Transfers: moving money, the refusals, scheduling, and the list with its filters."""

from __future__ import annotations

import asyncio
from typing import Any

from weavr_async.testing import FakeBackOffice, SeededIdentity, SeededInstrument

from .conftest import Api, funded, transfer_body


async def test_a_transfer_moves_money_between_the_ledgers(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    before = sim.instrument_balance(acct)
    body = transfer_body(acct, card, 1234, tag="topup", description="Top up #1")
    r = await api.call("POST", "/transfers", json=body)
    t = r.json
    assert r.status == 200
    assert t["state"] == "COMPLETED"
    assert t["tag"] == "topup"
    assert sim.instrument_balance(acct) == before - 1234
    assert sim.instrument_balance(card) == 1234
    src_entry, dst_entry = sim.ledger(acct)[-1], sim.ledger(card)[-1]
    assert src_entry["transactionId"] == {"type": "TRANSFER", "id": t["id"]}
    assert src_entry["actualBalanceAdjustment"]["amount"] == -1234
    assert dst_entry["balanceAfter"]["amount"] == 1234
    assert dst_entry["additionalFields"]["sourceInstrumentId"] == acct.id
    assert (await api.call("GET", f"/transfers/{t['id']}")).json == t
    card_get = (await api.call("GET", f"/managed_cards/{card.id}")).json
    assert card_get["balances"] == {"availableBalance": 1234, "actualBalance": 1234}


async def test_each_refused_transfer_has_its_error_code_and_moves_nothing(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    gbp = sim.add_managed_account(corp, currency="GBP", history=5)
    debit = sim.add_managed_card(corp, mode="DEBIT_MODE", parent_account=acct)
    blocked = sim.add_managed_card(corp)
    destroyed = sim.add_managed_card(corp)
    other = sim.add_managed_account(sim.add_identity("CONSUMER"), history=5)
    await api.login(corp)
    assert (await api.call("POST", f"/managed_cards/{blocked.id}/block")).status == 204
    assert (await api.call("POST", f"/managed_cards/{destroyed.id}/remove")).status == 204
    ghost = SeededInstrument("424242", "managed_accounts", corp.id, "EUR")
    huge = sim.instrument_balance(acct) + 1
    wrong_currency = transfer_body(acct, card, 5)
    wrong_currency["destinationAmount"]["currency"] = "USD"
    cases = [
        (transfer_body(acct, card, 0), "AMOUNT_INVALID"),
        (transfer_body(acct, card, -5), "AMOUNT_INVALID"),
        (transfer_body(ghost, card, 5), "SOURCE_NOT_FOUND"),
        (transfer_body(other, card, 5), "SOURCE_NOT_FOUND"),
        (transfer_body(acct, ghost, 5), "DESTINATION_NOT_FOUND"),
        (transfer_body(acct, other, 5), "DESTINATION_NOT_FOUND"),
        (transfer_body(acct, acct, 5), "SOURCE_AND_DESTINATION_MUST_BE_DIFFERENT"),
        (transfer_body(acct, gbp, 5), "CURRENCY_MISMATCH"),
        (wrong_currency, "CURRENCY_MISMATCH"),
        (transfer_body(acct, card, huge), "FUNDS_INSUFFICIENT"),
        (transfer_body(debit, card, 5), "SOURCE_CANNOT_BE_DEBIT_MODE_CARD"),
        (transfer_body(acct, debit, 5), "DESTINATION_CANNOT_BE_DEBIT_MODE_CARD"),
        (transfer_body(blocked, acct, 5), "SOURCE_INSTRUMENT_BLOCKED"),
        (transfer_body(acct, blocked, 5), "DESTINATION_INSTRUMENT_BLOCKED"),
        (transfer_body(destroyed, acct, 5), "SOURCE_INSTRUMENT_DESTROYED"),
        (transfer_body(acct, destroyed, 5), "DESTINATION_INSTRUMENT_DESTROYED"),
        (transfer_body(acct, card, 5, scheduledTimestamp="1000"), "SCHEDULED_TIMESTAMP_INVALID"),
    ]
    for body, code in cases:
        r = await api.call("POST", "/transfers", json=body)
        assert (r.status, r.json) == (409, {"errorCode": code}), code
    assert sim.instrument_balance(card) == 0


async def test_an_invalid_transfer_is_400_naming_every_bad_field(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    bad = transfer_body(acct, card, 5)
    del bad["profileId"]
    bad["source"]["type"] = "wallets"
    r = await api.call("POST", "/transfers", json=bad)
    assert r.status == 400
    assert {e["fieldName"] for e in r.json["validationErrors"]} == {"profileId", "source.type"}


async def test_a_scheduled_transfer_runs_on_the_first_request_after_it_is_due(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    when = sim.now_ms() + 150
    body = transfer_body(acct, card, 77, scheduledTimestamp=str(when))
    t = (await api.call("POST", "/transfers", json=body)).json
    assert t["state"] == "SCHEDULED"
    assert t["scheduledTimestamp"] == str(when)
    assert sim.instrument_balance(card) == 0
    await asyncio.sleep(0.2)
    done = (await api.call("GET", f"/transfers/{t['id']}")).json
    assert done["state"] == "COMPLETED"
    assert sim.instrument_balance(card) == 77


async def list_all(api: Api, count: int) -> list[dict[str, Any]]:
    everything: list[dict[str, Any]] = []
    while True:
        params = {"offset": len(everything), "limit": 100}
        page = (await api.call("GET", "/transfers", params=params)).json
        assert page["count"] == count
        everything += page["transfer"]
        if page["responseCount"] < 100:
            return everything


async def test_transfers_are_listed_newest_first_and_only_the_identitys(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    funded(sim, corp)
    sim.add_transfers(corp, count=250)
    other = sim.add_identity("CORPORATE")
    sim.add_managed_account(other)
    sim.add_managed_account(other)
    sim.add_transfers(other, count=5)
    await api.login(corp)
    everything = await list_all(api, 250)
    assert len(everything) == 250
    assert len({t["id"] for t in everything}) == 250
    created = [t["creationTimestamp"] for t in everything]
    assert created == sorted(created, reverse=True)


async def test_the_list_filters_by_window_state_tag_and_source(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    _acct, card = funded(sim, corp)
    sim.add_transfers(corp, count=250)
    await api.login(corp)
    everything = await list_all(api, 250)
    created = [t["creationTimestamp"] for t in everything]
    lo, hi = created[200], created[50]
    window = (await api.call("GET", "/transfers", params={"createdFrom": lo, "createdTo": hi})).json
    assert window["count"] == sum(1 for c in created if lo <= c < hi)
    states = [("state", "REJECTED"), ("state", "FAILED")]
    failed = (await api.call("GET", "/transfers", params=states)).json
    assert failed["count"] == sum(1 for t in everything if t["state"] in ("REJECTED", "FAILED"))
    tagged = (await api.call("GET", "/transfers", params={"tag": "rent"})).json
    assert tagged["count"] == sum(1 for t in everything if t.get("tag") == "rent") > 0
    source = {"id": card.id, "type": "managed_cards"}
    by_src = (await api.call("GET", "/transfers", params=source)).json
    assert by_src["count"] == sum(1 for t in everything if t["source"]["id"] == card.id)
    assert all(t["source"]["id"] == card.id for t in by_src["transfer"])


async def test_invalid_list_filters_are_400(api: Api, corp: SeededIdentity) -> None:
    await api.login(corp)
    for params in (
        {"id": "5"},
        {"limit": 0},
        {"state": "DONE"},
        {"tag": "a b"},
        {"profileId": "x"},
    ):
        assert (await api.call("GET", "/transfers", params=params)).status == 400, params


async def test_filtering_by_another_identitys_instrument_is_403_an_unknown_one_empty(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    foreign = sim.add_managed_account(sim.add_identity("CORPORATE"))
    await api.login(corp)
    r = await api.call("GET", "/transfers", params={"id": foreign.id, "type": "managed_accounts"})
    assert r.status == 403
    assert r.json == {"errorCode": "INSUFFICIENT_PERMISSIONS"}
    r = await api.call("GET", "/transfers", params={"id": "77", "type": "managed_accounts"})
    assert r.status == 200
    assert r.json["count"] == 0


async def test_arrivals_add_new_transfers_on_each_list_request(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    funded(sim, corp)
    sim.add_transfers(corp, count=250)
    await api.login(corp)
    newest = (await api.call("GET", "/transfers", params={"limit": 1})).json["transfer"][0]
    sim.arrivals_per_transfers_request = 2
    newer = (await api.call("GET", "/transfers", params={"limit": 2})).json
    assert newer["count"] == 252
    assert newer["transfer"][0]["creationTimestamp"] > newest["creationTimestamp"]


async def test_one_transfer_by_id_or_404(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    funded(sim, corp)
    sim.add_transfers(corp, count=5)
    await api.login(corp)
    some = (await api.call("GET", "/transfers")).json["transfer"][0]["id"]
    assert (await api.call("GET", f"/transfers/{some}")).status == 200
    assert (await api.call("GET", "/transfers/1")).status == 404
