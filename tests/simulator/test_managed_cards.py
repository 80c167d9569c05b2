"""Instruments: their bodies, and the card actions (block, unblock, renewal, remove)."""

from __future__ import annotations

from typing import Any

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api, transfer_body


async def test_account_and_card_bodies_carry_their_balances(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=10)
    card = sim.add_managed_card(corp, currency="EUR", history=10)
    await api.login(corp)
    a = (await api.call("GET", f"/managed_accounts/{acct.id}")).json
    assert a["balances"]["actualBalance"] == sim.instrument_balance(acct)
    assert a["state"] == {"state": "ACTIVE"}
    c = (await api.call("GET", f"/managed_cards/{card.id}")).json
    assert c["mode"] == "PREPAID_MODE"
    assert c["balances"]["availableBalance"] == sim.instrument_balance(card)
    assert len(c["cardNumber"]["value"]) <= 16
    assert len(c["cvv"]["value"]) <= 3


async def card_state(api: Api, card_id: str) -> dict[str, Any]:
    state: dict[str, Any] = (await api.call("GET", f"/managed_cards/{card_id}")).json["state"]
    return state


async def test_a_card_blocked_by_the_user_can_be_unblocked(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp)
    await api.login(corp)
    base = f"/managed_cards/{card.id}"
    r = await api.call("POST", base + "/unblock")
    assert r.json == {"errorCode": "INSTRUMENT_NOT_BLOCKED"}
    r = await api.call("POST", base + "/block")
    assert r.status == 204
    assert r.body == b""
    assert await card_state(api, card.id) == {"state": "BLOCKED", "blockedReason": "USER"}
    r = await api.call("POST", base + "/block")
    assert r.json == {"errorCode": "INSTRUMENT_ALREADY_BLOCKED"}
    assert (await api.call("POST", base + "/unblock")).status == 204
    assert await card_state(api, card.id) == {"state": "ACTIVE"}


async def test_only_a_block_by_the_user_can_be_lifted(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    system = sim.add_managed_card(corp)
    lost = sim.add_managed_card(corp)
    sim.set_instrument_state(system, "BLOCKED", "SYSTEM")
    sim.set_instrument_state(lost, "BLOCKED", "LOST")
    await api.login(corp)
    assert (await api.call("POST", f"/managed_cards/{system.id}/unblock")).status == 403
    r = await api.call("POST", f"/managed_cards/{lost.id}/unblock")
    assert r.json == {"errorCode": "INSTRUMENT_MARKED_LOST_STOLEN"}
    r = await api.call("POST", f"/managed_cards/{lost.id}/block")
    assert r.json == {"errorCode": "INSTRUMENT_MARKED_LOST_STOLEN"}


async def test_the_renewal_type_is_set_and_checked(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp)
    await api.login(corp)
    base = f"/managed_cards/{card.id}"
    r = await api.call("PATCH", base + "/renewal", json={"renewalType": "NO_RENEW"})
    assert r.status == 204
    assert (await api.call("GET", base)).json["renewalType"] == "NO_RENEW"
    r = await api.call("PATCH", base + "/renewal", json={"renewalType": "SOMETIMES"})
    assert r.status == 400


async def test_only_a_card_with_no_balance_can_be_removed(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp)
    funded_card = sim.add_managed_card(corp, history=20)
    await api.login(corp)
    r = await api.call("POST", f"/managed_cards/{funded_card.id}/remove")
    assert r.json == {"errorCode": "BALANCE_NOT_ZERO"}
    assert (await api.call("POST", f"/managed_cards/{card.id}/remove")).status == 204
    assert await card_state(api, card.id) == {"state": "DESTROYED", "destroyedReason": "USER"}


async def test_a_removed_card_refuses_every_action(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp)
    await api.login(corp)
    base = f"/managed_cards/{card.id}"
    assert (await api.call("POST", base + "/remove")).status == 204
    r = await api.call("POST", base + "/remove")
    assert r.json == {"errorCode": "INSTRUMENT_ALREADY_REMOVED"}
    assert (await api.call("POST", base + "/block")).json == {"errorCode": "INSTRUMENT_DESTROYED"}
    assert (await api.call("POST", base + "/unblock")).json == {"errorCode": "INSTRUMENT_DESTROYED"}
    r = await api.call("PATCH", base + "/renewal", json={"renewalType": "RENEW"})
    assert r.json == {"errorCode": "INSTRUMENT_DESTROYED"}


async def test_a_state_forced_by_the_simulator_shows_and_counts(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=20)
    card = sim.add_managed_card(corp)
    await api.login(corp)
    sim.set_instrument_state(acct, "BLOCKED")
    got = (await api.call("GET", f"/managed_accounts/{acct.id}")).json
    assert got["state"] == {"state": "BLOCKED", "blockedReason": "SYSTEM"}
    r = await api.call("POST", "/transfers", json=transfer_body(acct, card, 1))
    assert r.json == {"errorCode": "SOURCE_INSTRUMENT_BLOCKED"}
    sim.set_instrument_state(acct, "ACTIVE")
    assert (await api.call("POST", "/transfers", json=transfer_body(acct, card, 1))).status == 200
