"""The models and the converter: camelCase, tolerance of what the SDK does not know yet."""

from __future__ import annotations

import pytest

from weavr_async import CardSpendRules, CurrencyAmount, SpendLimit, StatementEntry
from weavr_async.models import (
    AccessToken,
    BulkProcessDetails,
    ManagedAccount,
    Secret,
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
    assert entry.forex_rate is not None and entry.forex_rate.scale == 4
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
    assert "s3cr3t" not in repr(as_object) and "s3cr3t" not in str(as_object.token)
    with pytest.raises(ValueError):
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
    assert account.balances.actual_balance == 6 and account.state.state == "ACTIVE"
