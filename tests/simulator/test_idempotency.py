"""Idempotency: a repeat of (identity, operation, idempotency-ref, body) gets the first answer."""

from __future__ import annotations

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api, funded, transfer_body


async def test_a_repeat_replays_the_first_answer_and_moves_no_more_money(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    body, ref = transfer_body(acct, card, 10), {"idempotency-ref": "abc"}
    first = await api.call("POST", "/transfers", json=body, headers=ref)
    again = await api.call("POST", "/transfers", json=body, headers=ref)
    assert first.body == again.body
    assert sim.idempotent_replays == 1
    assert first.headers["request-ref"] != again.headers["request-ref"]
    assert sim.instrument_balance(card) == 10


async def test_another_body_under_the_same_ref_is_a_new_request(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    ref = {"idempotency-ref": "abc"}
    first = await api.call("POST", "/transfers", json=transfer_body(acct, card, 10), headers=ref)
    changed = await api.call("POST", "/transfers", json=transfer_body(acct, card, 11), headers=ref)
    assert changed.json["id"] != first.json["id"]
    assert sim.instrument_balance(card) == 21


async def test_without_a_ref_every_request_is_new(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    body = transfer_body(acct, card, 10)
    first = await api.call("POST", "/transfers", json=body, headers={"idempotency-ref": "abc"})
    plain = await api.call("POST", "/transfers", json=body)
    assert plain.json["id"] != first.json["id"]
    assert sim.instrument_balance(card) == 20
    assert sim.idempotent_replays == 0


async def test_a_repeated_fee_is_charged_once(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, _card = funded(sim, corp)
    await api.login(corp)
    before = sim.instrument_balance(acct)
    body = {"feeType": "MONTHLY_FEE", "source": {"type": "managed_accounts", "id": acct.id}}
    for _ in range(2):
        await api.call("POST", "/fees/charge", json=body, headers={"idempotency-ref": "fee-1"})
    assert sim.instrument_balance(acct) == before - 250
    assert sim.idempotent_replays == 1


async def test_a_refusal_is_replayed_too(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    await api.login(corp)
    body, ref = transfer_body(acct, card, 10**9), {"idempotency-ref": "broke"}
    first = await api.call("POST", "/transfers", json=body, headers=ref)
    assert first.json == {"errorCode": "FUNDS_INSUFFICIENT"}
    again = await api.call("POST", "/transfers", json=body, headers=ref)
    assert again.body == first.body
    assert sim.idempotent_replays == 1
