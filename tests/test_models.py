"""The models and the converter: camelCase, tolerance of what the SDK does not know yet, and
no value from the server held unless it has its field's declared type."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import pytest

from weavr_async import CardSpendRules, CurrencyAmount, SpendLimit, StatementEntry
from weavr_async.models import (
    AccessToken,
    AllLevelSpendRules,
    BulkProcessDetails,
    FeeCharge,
    ManagedAccount,
    ManagedCard,
    PhysicalCardReplacement,
    Secret,
    TransactionId,
    User,
    structure,
    structure_many,
    unstructure,
)

ENTRY = {
    "transactionId": {"type": "SETTLEMENT", "id": "77"},
    "entryState": "COMPLETED",
    "transactionAmount": {"currency": "EUR", "amount": -1500},
    "balanceAfter": {"currency": "EUR", "amount": 8500},
    "forexRate": {"value": 10823, "scale": 4},
    "processedTimestamp": 1700000000000,
    "additionalFields": {"merchantName": "ACME"},
}


def test_statement_entry_maps_camel_case_and_keeps_money_as_ints() -> None:
    entry = structure(ENTRY, StatementEntry)
    assert entry.transaction_id.type == "SETTLEMENT"
    assert entry.transaction_amount == CurrencyAmount("EUR", -1500)
    assert isinstance(entry.balance_after, CurrencyAmount)
    assert entry.balance_after.amount == 8500
    assert entry.forex_rate is not None
    assert entry.forex_rate.scale == 4
    assert entry.original_amount is None
    assert entry.additional_fields == {"merchantName": "ACME"}


def test_unknown_fields_and_enum_values_are_tolerated() -> None:
    data = dict(ENTRY, brandNewField={"x": 1}, entryState="SOMETHING_NEW")
    data["transactionId"] = {"type": "QUANTUM_TRANSFER", "id": "78"}
    entry = structure(data, StatementEntry)
    assert entry.entry_state == "SOMETHING_NEW"
    assert entry.transaction_id.type == "QUANTUM_TRANSFER"


def test_missing_required_field_fails() -> None:
    data = dict(ENTRY)
    del data["transactionAmount"]
    with pytest.raises(KeyError):
        structure(data, StatementEntry)


def test_absent_map_defaults_to_empty_and_pages_decode_together() -> None:
    data = dict(ENTRY)
    del data["additionalFields"]
    entries = structure_many([data, ENTRY], StatementEntry)
    assert entries[0].additional_fields == {}
    assert entries[1].additional_fields == {"merchantName": "ACME"}


def test_access_token_accepts_both_shapes_and_hides_the_token() -> None:
    as_object = structure({"token": {"token": "s3cr3t"}}, AccessToken)
    as_string = structure({"token": "s3cr3t"}, AccessToken)
    assert as_object.token.reveal() == as_string.token.reveal() == "s3cr3t"
    assert "s3cr3t" not in repr(as_object)
    assert "s3cr3t" not in str(as_object.token)
    with pytest.raises(ValueError, match="carries no token"):
        structure({"token": {}}, AccessToken)


def test_secret_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret("k"))


def test_request_bodies_are_camel_case_without_unset_fields() -> None:
    rules = CardSpendRules(
        allow_e_commerce=False,
        spend_limit=[SpendLimit(CurrencyAmount("EUR", 10_000), "MONTHLY")],
    )
    assert unstructure(rules) == {
        "allowECommerce": False,
        "spendLimit": [{"value": {"currency": "EUR", "amount": 10000}, "interval": "MONTHLY"}],
    }


def test_nested_and_inherited_models() -> None:
    details = structure(
        {"bulkId": "9", "status": "RUNNING", "operationStatusCounts": [{"status": "FAILED"}]},
        BulkProcessDetails,
    )
    assert details.bulk_id == "9"
    assert details.operation_status_counts is not None
    assert details.operation_status_counts[0].status == "FAILED"
    account = structure(
        {
            "id": "1",
            "profileId": "2",
            "friendlyName": "Ops",
            "currency": "EUR",
            "balances": {"availableBalance": 5, "actualBalance": 6},
            "state": {"state": "ACTIVE"},
            "creationTimestamp": 3,
        },
        ManagedAccount,
    )
    assert account.balances.actual_balance == 6
    assert account.state.state == "ACTIVE"


# -- every value from the server is checked against its declared type ---------------------

ACCOUNT = {
    "id": "1",
    "profileId": "2",
    "friendlyName": "Ops",
    "currency": "EUR",
    "balances": {"availableBalance": 5, "actualBalance": 6},
    "state": {"state": "ACTIVE"},
    "creationTimestamp": 3,
}
CARD = {
    "id": "11",
    "profileId": "2",
    "externalHandle": "h",
    "friendlyName": "Travel",
    "currency": "EUR",
    "state": {"state": "ACTIVE"},
    "type": "VIRTUAL",
    "cardBrand": "VISA",
    "cardNumberFirstSix": "123456",
    "cardNumberLastFour": "9876",
    "nameOnCard": "A B",
    "startMmyy": "0124",
    "expiryMmyy": "0128",
    "cardLevelClassification": "CORPORATE",
    "expiryPeriodMonths": 48,
    "renewalType": "AUTOMATIC",
    "creationTimestamp": 4,
    "mode": "PREPAID_MODE",
    "billingAddress": {"addressLine1": "1 St", "city": "Malta", "postCode": "M1", "country": "MT"},
    "digitalWallets": {},
}
USER = {
    "id": "7",
    "identity": {"type": "CORPORATE", "id": "1001"},
    "name": "Ada",
    "surname": "L",
    "email": "ada@example.com",
    "active": True,
}
FEE = {
    "transactionId": {"type": "CHARGE_FEE", "id": "555"},
    "profileId": "2",
    "feeType": "MONTHLY",
    "source": {"type": "managed_accounts", "id": "1"},
    "availableBalanceAdjustment": {"currency": "EUR", "amount": -100},
    "state": "COMPLETED",
    "creationTimestamp": 5,
}


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `base` with the value at the dotted `path` replaced (or, for the
    `_DELETE` marker, removed)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is _DELETE:
        target.pop(last, None)
    else:
        target[last] = value
    return data


_DELETE = object()

WRONG_TYPES = [
    # (case, model, data, exception, what the message must name)
    ("amount null", StatementEntry, _with(ENTRY, "transactionAmount.amount", None), TypeError,
     "CurrencyAmount.amount"),
    ("amount as a string", StatementEntry, _with(ENTRY, "transactionAmount.amount", "100"),
     TypeError, "CurrencyAmount.amount"),
    ("amount as a fraction", StatementEntry, _with(ENTRY, "balanceAfter.amount", 100.7),
     TypeError, "CurrencyAmount.amount"),
    ("amount 1e300", StatementEntry, _with(ENTRY, "balanceAfter.amount", 1e300), TypeError,
     "CurrencyAmount.amount"),
    ("amount as a bool", StatementEntry, _with(ENTRY, "transactionAmount.amount", True),
     TypeError, "CurrencyAmount.amount"),
    ("amount 2**64", StatementEntry, _with(ENTRY, "transactionAmount.amount", 2**64),
     ValueError, "CurrencyAmount.amount"),
    ("amount 2**63", CurrencyAmount, {"currency": "EUR", "amount": 2**63}, ValueError,
     "CurrencyAmount.amount"),
    ("amount below int64", CurrencyAmount, {"currency": "EUR", "amount": -(2**63) - 1},
     ValueError, "CurrencyAmount.amount"),
    ("currency as a number", CurrencyAmount, {"currency": 978, "amount": 1}, TypeError,
     "CurrencyAmount.currency"),
    ("timestamp as a string", StatementEntry, _with(ENTRY, "processedTimestamp", "1700"),
     TypeError, "StatementEntry.processed_timestamp"),
    ("forex rate scale as a float", StatementEntry, _with(ENTRY, "forexRate.scale", 4.0),
     TypeError, "ScaledAmount.scale"),
    ("id as a number", ManagedAccount, _with(ACCOUNT, "id", 123), TypeError,
     "ManagedAccount.id"),
    ("transaction id as a number", StatementEntry, _with(ENTRY, "transactionId.id", 123),
     TypeError, "TransactionId.id"),
    ("optional string as an object", ManagedAccount, _with(ACCOUNT, "tag", {"id": 1}),
     TypeError, "ManagedAccount.tag"),
    ("bool as a string", User, _with(USER, "active", "true"), TypeError, "User.active"),
    ("bool as a number", User, _with(USER, "active", 1), TypeError, "User.active"),
    ("nested object null", StatementEntry, _with(ENTRY, "transactionAmount", None), TypeError,
     "StatementEntry.transaction_amount"),
    ("nested object as a list", StatementEntry, _with(ENTRY, "transactionAmount", [1]),
     TypeError, "StatementEntry.transaction_amount"),
    ("nested object as a string", StatementEntry, _with(ENTRY, "transactionId", "77"),
     TypeError, "StatementEntry.transaction_id"),
    ("optional nested object as a list", StatementEntry, _with(ENTRY, "forexRate", []),
     TypeError, "StatementEntry.forex_rate"),
    ("large nested object null", ManagedCard, _with(CARD, "billingAddress", None), TypeError,
     "ManagedCard.billing_address"),
    ("large nested object as a string", ManagedCard, _with(CARD, "billingAddress", "Malta"),
     TypeError, "ManagedCard.billing_address"),
    ("field of a large nested object", ManagedCard, _with(CARD, "billingAddress.city", 7),
     TypeError, "BillingAddress.city"),
    ("the whole object null", StatementEntry, None, TypeError, "StatementEntry"),
    ("the whole object a list", ManagedAccount, [ACCOUNT], TypeError, "ManagedAccount"),
    ("list item null", User, dict(USER, roles=["ADMIN", None]), TypeError, "User.roles"),
    ("list item of objects null", ManagedCard, dict(CARD, externalData=[None]), TypeError,
     "ManagedCard.external_data"),
    ("list as an object", User, dict(USER, roles={"ADMIN": True}), TypeError, "User.roles"),
    ("list of objects as a string", BulkProcessDetails,
     {"operationStatusCounts": "FAILED"}, TypeError,
     "BulkProcessDetails.operation_status_counts"),
    ("map value as a number", StatementEntry, _with(ENTRY, "additionalFields.merchantName", 5),
     TypeError, "StatementEntry.additional_fields"),
    ("map as a list", StatementEntry, _with(ENTRY, "additionalFields", ["ACME"]), TypeError,
     "StatementEntry.additional_fields"),
    ("unknown literal", User, _with(USER, "identity.type", "PARTNERSHIP"), ValueError,
     "Identity.type"),
    ("literal of the wrong type", User, _with(USER, "identity.type", 1), TypeError,
     "Identity.type"),
    ("unknown instrument type", FeeCharge, _with(FEE, "source.type", "wallets"), ValueError,
     "InstrumentRef.type"),
    ("required field missing", StatementEntry, _with(ENTRY, "transactionAmount.amount", _DELETE),
     KeyError, "CurrencyAmount.amount"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "data", "error", "names"),
    [pytest.param(*case[1:], id=case[0]) for case in WRONG_TYPES],
)
def test_a_value_of_the_wrong_type_is_refused_with_the_field_named(
    model: type, data: Any, error: type[Exception], names: str
) -> None:
    with pytest.raises(error) as raised:
        structure(data, model)
    assert type(raised.value) is error
    assert names in str(raised.value)


@pytest.mark.parametrize("model", [StatementEntry, ManagedAccount, User, FeeCharge])
def test_the_same_refusal_when_decoding_a_page(model: type) -> None:
    with pytest.raises(TypeError, match=rf"^{model.__name__}: expected object, got None"):
        structure_many([None], model)


def test_a_refusal_never_shows_the_value() -> None:
    for data, model in (
        (_with(ENTRY, "transactionAmount.amount", "s3cr3t-amount"), StatementEntry),
        (_with(ACCOUNT, "id", ["s3cr3t-id"]), ManagedAccount),
        (_with(USER, "identity.type", "s3cr3t-type"), User),
        (_with(ENTRY, "additionalFields.note", 123456789), StatementEntry),
    ):
        with pytest.raises((TypeError, ValueError)) as raised:
            structure(data, model)
        assert "s3cr3t" not in str(raised.value)
        assert "123456789" not in str(raised.value)


def test_a_nested_failure_says_where_it_is() -> None:
    with pytest.raises(TypeError) as raised:
        structure(_with(ENTRY, "balanceAfter.amount", "1"), StatementEntry)
    assert str(raised.value) == (
        "CurrencyAmount.amount: expected int, got str (at StatementEntry.balance_after.amount)"
    )


def test_int64_bounds_and_values_as_sent_are_accepted() -> None:
    for amount in (2**63 - 1, -(2**63), 0):
        assert structure({"currency": "EUR", "amount": amount}, CurrencyAmount).amount == amount
    entry = structure(_with(ENTRY, "additionalFields", {}), StatementEntry)
    assert entry.additional_fields == {}


@attrs.define
class _Probe:
    """Field types the API's models do not use (yet), so that the generator's rules for
    them are tried too."""

    ratio: float
    codes: list[int]
    extra: dict[str, Any]
    counts: Mapping[str, int]
    level: Literal[1, 2]
    nested: list[list[str]] | None = None
    by_name: dict[str, CurrencyAmount] | None = None


PROBE = {"ratio": 1.5, "codes": [1, 2], "extra": {"a": [None]}, "counts": {"x": 1}, "level": 2}


def test_other_declared_types_are_checked_by_the_same_rules() -> None:
    probe = structure(
        dict(PROBE, nested=[["a"]], byName={"k": {"currency": "EUR", "amount": 1}}), _Probe
    )
    assert probe.ratio == 1.5
    assert probe.level == 2
    assert probe.nested == [["a"]]
    assert probe.by_name == {"k": CurrencyAmount("EUR", 1)}
    assert structure(dict(PROBE, ratio=3), _Probe).ratio == 3
    for change, error, names in (
        ({"ratio": True}, TypeError, "_Probe.ratio"),
        ({"ratio": "1.5"}, TypeError, "_Probe.ratio"),
        ({"ratio": 2**70}, ValueError, "_Probe.ratio"),
        ({"ratio": math.inf}, ValueError, "_Probe.ratio"),
        ({"ratio": math.nan}, ValueError, "_Probe.ratio"),
        ({"codes": [1, "2"]}, TypeError, "_Probe.codes"),
        ({"codes": [True]}, TypeError, "_Probe.codes"),
        ({"extra": []}, TypeError, "_Probe.extra"),
        ({"counts": {"x": 1.0}}, TypeError, "_Probe.counts"),
        ({"level": 3}, ValueError, "_Probe.level"),
        ({"level": True}, TypeError, "_Probe.level"),
        ({"level": "1"}, TypeError, "_Probe.level"),
        ({"nested": [["a", 1]]}, TypeError, "_Probe.nested"),
        ({"nested": ["a"]}, TypeError, "_Probe.nested"),
        ({"byName": {"k": None}}, TypeError, "_Probe.by_name"),
        ({"byName": {"k": {"currency": "EUR", "amount": "1"}}}, TypeError, "amount"),
    ):
        with pytest.raises(error) as raised:
            structure(dict(PROBE, **change), _Probe)
        assert type(raised.value) is error, change
        assert names in str(raised.value), change


# -- the access token goes into a header ------------------------------------------------------

BAD_TOKENS = [
    ("CR LF", "s3cr3t\r\nX-Injected: 1"),
    ("LF", "s3cr3t\n"),
    ("NUL", "s3cr3t\x00"),
    ("tab", "s3cr3t\tx"),
    ("DEL", "s3cr3t\x7f"),
    ("non-ASCII", "s3cr3té"),
    ("too long", "s3cr3t" + "x" * 8187),
]


@pytest.mark.parametrize("token", [pytest.param(t, id=case) for case, t in BAD_TOKENS])
@pytest.mark.parametrize("shape", ["bare", "object"])
def test_a_token_unfit_for_a_header_is_refused_without_showing_it(token: str, shape: str) -> None:
    data = {"token": token if shape == "bare" else {"token": token}}
    with pytest.raises(ValueError, match=r"AccessToken\.token") as raised:
        structure(data, AccessToken)
    assert type(raised.value) is ValueError
    message = str(raised.value)
    assert "s3cr3t" not in message
    assert "xxx" not in message


def test_a_token_that_is_not_a_string_is_refused() -> None:
    for token in (123, ["a"], True, {"token": 5}):
        with pytest.raises(TypeError, match=r"AccessToken\.token"):
            structure({"token": token}, AccessToken)


def test_the_longest_token_accepted() -> None:
    token = "A" * 8192
    assert structure({"token": token}, AccessToken).token.reveal() == token


# -- fidelity where the contract is loose ------------------------------------------------------


@pytest.mark.parametrize(
    "destination",
    [
        pytest.param("managed_accounts/1", id="string"),
        pytest.param(12345, id="number"),
        pytest.param({"type": "managed_accounts", "id": "9"}, id="instrument"),
        pytest.param({"anything": [1, {"x": None}]}, id="other object"),
        pytest.param([1, 2], id="list"),
        pytest.param(None, id="null"),
        pytest.param(_DELETE, id="missing"),
    ],
)
def test_a_fee_charge_decodes_whatever_its_schemaless_destination(destination: Any) -> None:
    charge = structure(_with(FEE, "destination", destination), FeeCharge)
    assert charge.transaction_id == TransactionId("CHARGE_FEE", "555")
    assert charge.available_balance_adjustment == CurrencyAmount("EUR", -100)
    assert charge.destination == (None if destination is _DELETE else destination)


def test_legacy_top_level_spend_rules_are_decoded() -> None:
    legacy = {
        "allowedMerchantCategories": ["5411"],
        "blockedMerchantCategories": ["7995"],
        "allowedMerchantIds": ["m1"],
        "blockedMerchantIds": ["m2"],
        "allowedMerchantCountries": ["MT"],
        "blockedMerchantCountries": ["KP"],
        "allowContactless": False,
        "allowAtm": False,
        "allowECommerce": True,
        "allowCashback": False,
        "allowCreditAuthorisations": True,
        "minTransactionAmount": 100,
        "maxTransactionAmount": 50_000,
        "spendLimit": [{"value": {"currency": "EUR", "amount": 10_000}, "interval": "DAILY"}],
    }
    rules = structure(legacy, AllLevelSpendRules)
    assert rules.card_level_spend_rules is None
    assert rules.allowed_merchant_categories == ["5411"]
    assert rules.blocked_merchant_categories == ["7995"]
    assert rules.allowed_merchant_ids == ["m1"]
    assert rules.blocked_merchant_ids == ["m2"]
    assert rules.allowed_merchant_countries == ["MT"]
    assert rules.blocked_merchant_countries == ["KP"]
    assert rules.allow_contactless is False
    assert rules.allow_atm is False
    assert rules.allow_e_commerce is True
    assert rules.allow_cashback is False
    assert rules.allow_credit_authorisations is True
    assert rules.min_transaction_amount == 100
    assert rules.max_transaction_amount == 50_000
    assert rules.spend_limit == [SpendLimit(CurrencyAmount("EUR", 10_000), "DAILY")]
    both = structure(dict(legacy, cardLevelSpendRules={"allowAtm": True}), AllLevelSpendRules)
    assert both.card_level_spend_rules == CardSpendRules(allow_atm=True)
    assert both.allow_atm is False
    with pytest.raises(TypeError, match=r"AllLevelSpendRules\.max_transaction_amount"):
        structure(dict(legacy, maxTransactionAmount="50000"), AllLevelSpendRules)


def test_deprecated_physical_card_fields_are_decoded() -> None:
    card = structure(
        dict(
            CARD,
            physicalCardDetails={
                "pendingActivation": False,
                "replacement": {"replacementReason": "LOST_STOLEN", "replacementId": "12"},
                "nameOnCardLine2": "ACME LTD",
            },
        ),
        ManagedCard,
    )
    details = card.physical_card_details
    assert details is not None
    assert details.name_on_card_line2 == "ACME LTD"
    assert details.replacement == PhysicalCardReplacement("LOST_STOLEN", "12")
