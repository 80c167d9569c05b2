"""The pure request-building parts: paths, query pairs, timestamps, the operation registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

import weavr_async.resources  # noqa: F401  (declares every operation)
from weavr_async._operation import OPERATIONS, epoch_millis, query_pairs
from weavr_async._wire import join_url, parse_rate_limit_reset


def test_path_values_are_percent_encoded() -> None:
    op = OPERATIONS["managedCardBlock"]
    assert op.render_path({"id": "123"}) == "/managed_cards/123/block"
    assert op.render_path({"id": "../x"}) == "/managed_cards/..%2Fx/block"


def test_query_pairs_repeat_lists_and_drop_none() -> None:
    pairs = query_pairs({"a": None, "b": ["X", "Y"], "c": True, "d": 5, "e": False})
    assert pairs == [("b", "X"), ("b", "Y"), ("c", "true"), ("d", "5"), ("e", "false")]


def test_epoch_millis_from_aware_datetime_and_int() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert epoch_millis(moment) == 1704164645678
    plus_two = moment.astimezone(timezone(timedelta(hours=2)))
    assert epoch_millis(plus_two) == 1704164645678
    assert epoch_millis(42) == 42
    with pytest.raises(ValueError, match="naive"):
        epoch_millis(datetime(2024, 1, 1))


def test_base_url_with_a_path_is_kept() -> None:
    base = "https://sandbox.weavr.io/multi/backoffice"
    assert join_url(base, "/transfers") == "https://sandbox.weavr.io/multi/backoffice/transfers"
    assert join_url(base + "/", "transfers") == base + "/transfers"


def test_rate_limit_reset_parsing() -> None:
    assert parse_rate_limit_reset({"x-ratelimit-reset": "3"}) == 3.0
    assert parse_rate_limit_reset({"x-ratelimit-reset": "soon"}) is None
    assert parse_rate_limit_reset({"x-ratelimit-reset": "-1"}) is None
    assert parse_rate_limit_reset({}) is None


def test_registry_holds_every_operation_once() -> None:
    assert len(OPERATIONS) == 32
    assert {op.operation_id for op in OPERATIONS.values()} == set(OPERATIONS)
    retry_safe_writes = {
        name for name, op in OPERATIONS.items() if op.method != "GET" and op.retry_safe
    }
    # Writes repeat only where the API makes them idempotent (or they are by nature).
    assert retry_safe_writes == {
        "chargeFee",
        "corporateChargeFee",
        "consumerChargeFee",
        "managedCardRenewalTypeUpdate",
        "managedCardSpendRulesUpdate",
        "managedCardSpendRulesDelete",
        "transferCreate",
        "userCreate",
        "bulksManagedCardSpendRulesUpdate",
        "bulksTransferCreate",
        "requestAccessToken",
    }


def test_a_deprecated_operation_names_what_to_use_instead() -> None:
    assert OPERATIONS["chargeFee"].deprecation is None
    assert OPERATIONS["corporateChargeFee"].deprecation == (
        "corporateChargeFee is deprecated by the API; use fees.charge"
    )
    deprecated = {name for name, op in OPERATIONS.items() if op.deprecation is not None}
    assert deprecated == {"corporateChargeFee", "consumerChargeFee", "impersonateIdentityLogin"}
