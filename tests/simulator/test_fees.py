"""Fees: a CHARGE_FEE entry on the source, and the refusals of each fee operation."""

from __future__ import annotations

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api, funded


def fee(source_id: str, fee_type: str = "MONTHLY_FEE") -> dict[str, object]:
    return {"feeType": fee_type, "source": {"type": "managed_accounts", "id": source_id}}


async def test_a_fee_is_a_charge_fee_entry_on_its_source(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, _card = funded(sim, corp)
    await api.login(corp)
    before = sim.instrument_balance(acct)
    r = await api.call("POST", "/fees/charge", json=fee(acct.id))
    charged = r.json
    assert r.status == 200
    assert charged["availableBalanceAdjustment"] == {"currency": "EUR", "amount": -250}
    assert charged["destination"]["type"] == "managed_accounts"
    assert charged["state"] == "COMPLETED"
    assert sim.instrument_balance(acct) == before - 250
    entry = sim.ledger(acct)[-1]
    assert entry["transactionId"] == charged["transactionId"]
    assert entry["additionalFields"]["chargeFeeType"] == "MONTHLY_FEE"


async def test_the_identity_type_fee_operations_charge_their_own_type_only(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, _card = funded(sim, corp)
    await api.login(corp)
    before = sim.instrument_balance(acct)
    r = await api.call("POST", "/corporates/fees/charge", json=fee(acct.id))
    assert r.status == 200
    assert sim.instrument_balance(acct) == before - 250
    r = await api.call("POST", "/consumers/fees/charge", json=fee(acct.id))
    assert r.json == {"errorCode": "INSUFFICIENT_PERMISSIONS"}


async def test_each_refused_fee_has_its_error_code(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = funded(sim, corp)
    foreign = sim.add_managed_account(sim.add_identity("CONSUMER"), history=5)
    await api.login(corp)
    body = fee(acct.id)
    cases = [
        ({**body, "feeType": "NOPE"}, "UNRESOLVED_FEE_TYPE"),
        ({**body, "source": {"type": "managed_accounts", "id": "1"}}, "UNRESOLVED_INSTRUMENT"),
        ({**body, "source": {"type": "managed_accounts", "id": foreign.id}},
         "IDENTITY_NOT_OWNER_OF_INSTRUMENT"),
        ({**body, "source": {"type": "managed_cards", "id": card.id}}, "FUNDS_INSUFFICIENT"),
    ]  # fmt: skip
    for b, code in cases:
        assert (await api.call("POST", "/fees/charge", json=b)).json == {"errorCode": code}


async def test_an_invalid_fee_is_400_in_the_shape_each_operation_declares(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, _card = funded(sim, corp)
    await api.login(corp)
    source = fee(acct.id)["source"]
    r = await api.call("POST", "/fees/charge", json={"source": source})
    assert r.status == 400
    assert r.json["syntaxErrors"]["invalidFields"][0]["fieldName"] == "feeType"
    r = await api.call("POST", "/corporates/fees/charge", json={"source": source})
    assert r.status == 400
    assert "validationErrors" in r.json


async def test_fee_types_can_be_added(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, _card = funded(sim, corp)
    await api.login(corp)
    sim.fee_types["TINY"] = 1
    r = await api.call("POST", "/fees/charge", json=fee(acct.id, "TINY"))
    assert r.status == 200
    assert r.json["availableBalanceAdjustment"]["amount"] == -1
