"""Card spend rules: set once, merged by PATCH (limits overwritten or incremented), deleted."""

from __future__ import annotations

from typing import Any

from weavr_async.testing import FakeBackOffice, SeededIdentity, SeededInstrument

from .conftest import Api

LIMIT = {"value": {"currency": "EUR", "amount": 1000}, "interval": "DAILY"}
RULES = {"allowAtm": False, "blockedMerchantCountries": ["RU"], "spendLimit": [LIMIT]}


def debit_card(sim: FakeBackOffice, corp: SeededIdentity) -> SeededInstrument:
    acct = sim.add_managed_account(corp)
    return sim.add_managed_card(corp, mode="DEBIT_MODE", parent_account=acct)


async def card_rules(api: Api, path: str) -> Any:
    return (await api.call("GET", path)).json["cardLevelSpendRules"]


async def test_rules_are_set_once_and_read_back(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    debit = debit_card(sim, corp)
    await api.login(corp)
    path = f"/managed_cards/{debit.id}/spend_rules"
    got = (await api.call("GET", path)).json
    assert got["cardLevelSpendRules"] == {}
    assert "profileLevelSpendRules" in got
    assert (await api.call("POST", path, json=RULES)).status == 204
    assert (await api.call("POST", path, json=RULES)).json == {
        "errorCode": "SPEND_RULE_ALREADY_SET"
    }
    assert await card_rules(api, path) == RULES


async def test_a_debit_cards_available_to_spend_mirrors_its_limits(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    debit = debit_card(sim, corp)
    await api.login(corp)
    await api.call("POST", f"/managed_cards/{debit.id}/spend_rules", json=RULES)
    card = (await api.call("GET", f"/managed_cards/{debit.id}")).json
    assert card["availableToSpend"] == [LIMIT]


async def test_increment_adds_to_a_limit_and_keeps_the_other_rules(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    debit = debit_card(sim, corp)
    await api.login(corp)
    path = f"/managed_cards/{debit.id}/spend_rules"
    await api.call("POST", path, json=RULES)
    inc = {"spendLimit": [{"value": {"currency": "EUR", "amount": 500}, "interval": "DAILY"}],
           "updateSpendLimitMethod": "INCREMENT", "allowAtm": True}  # fmt: skip
    r = await api.call("PATCH", path, json=inc, headers={"idempotency-ref": "inc-1"})
    assert r.status == 204
    r = await api.call("PATCH", path, json=inc, headers={"idempotency-ref": "inc-1"})
    assert r.status == 204
    assert sim.idempotent_replays == 1  # a replay increments nothing
    got = await card_rules(api, path)
    assert got["spendLimit"][0]["value"]["amount"] == 1500
    assert got["allowAtm"] is True
    assert got["blockedMerchantCountries"] == ["RU"]


async def test_overwrite_replaces_the_limits_whole(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    debit = debit_card(sim, corp)
    await api.login(corp)
    path = f"/managed_cards/{debit.id}/spend_rules"
    await api.call("POST", path, json=RULES)
    weekly = {"value": {"currency": "EUR", "amount": 9}, "interval": "WEEKLY"}
    assert (await api.call("PATCH", path, json={"spendLimit": [weekly]})).status == 204
    assert (await card_rules(api, path))["spendLimit"] == [weekly]


async def test_limits_a_card_cannot_take_are_409(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    debit = debit_card(sim, corp)
    prepaid = sim.add_managed_card(corp)
    await api.login(corp)
    conflicts = [
        ([{"value": {"currency": "GBP", "amount": 1}, "interval": "DAILY"}],
         "SPEND_LIMIT_CURRENCY_DIFFERENT_FROM_CARD_CURRENCY"),
        ([LIMIT, LIMIT], "SPEND_LIMIT_DUPLICATE_INTERVAL"),
        ([{"value": {"currency": "EUR", "amount": -5}, "interval": "DAILY"}],
         "SPEND_LIMIT_AMOUNT_INVALID"),
    ]  # fmt: skip
    for limits, code in conflicts:
        r = await api.call(
            "PATCH", f"/managed_cards/{debit.id}/spend_rules", json={"spendLimit": limits}
        )
        assert r.json == {"errorCode": code}
    r = await api.call(
        "POST", f"/managed_cards/{prepaid.id}/spend_rules", json={"spendLimit": [LIMIT]}
    )
    assert r.json == {"errorCode": "SPEND_LIMIT_NOT_SUPPORTED_FOR_PREPAID_MODE_CARD"}


async def test_invalid_rules_are_400(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    prepaid = sim.add_managed_card(corp)
    await api.login(corp)
    path = f"/managed_cards/{prepaid.id}/spend_rules"
    assert (await api.call("POST", path, json={"minTransactionAmount": -1})).status == 400
    assert (
        await api.call("POST", path, json={"spendLimit": [{"interval": "DAILY"}]})
    ).status == 400


async def test_deleted_rules_can_be_set_again(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    debit = debit_card(sim, corp)
    await api.login(corp)
    path = f"/managed_cards/{debit.id}/spend_rules"
    await api.call("POST", path, json=RULES)
    assert (await api.call("DELETE", path)).status == 204
    assert await card_rules(api, path) == {}
    assert (await api.call("POST", path, json={"allowECommerce": False})).status == 204
