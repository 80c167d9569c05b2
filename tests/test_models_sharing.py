"""Equal values decoded as one object (models/_shared.py): amounts repeated within an entry,
words repeated across a page. Sharing saves time and memory, never a check."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest

from weavr_async import CurrencyAmount, StatementEntry
from weavr_async.models import Transfer, structure, structure_many
from weavr_async.models._shared import NO_AMOUNT

ENTRY: dict[str, Any] = {
    "transactionId": {"type": "SETTLEMENT", "id": "77"},
    "entryState": "COMPLETED",
    "transactionAmount": {"currency": "EUR", "amount": -1500},
    "availableBalanceAdjustment": {"currency": "EUR", "amount": -1500},
    "actualBalanceAdjustment": {"currency": "EUR", "amount": -1500},
    "balanceAfter": {"currency": "EUR", "amount": 8500},
    "availableBalanceAfter": {"currency": "EUR", "amount": 8500},
    "actualBalanceAfter": {"currency": "EUR", "amount": 8500},
    "transactionFee": {"currency": "EUR", "amount": 0},
    "processedTimestamp": 1700000000000,
}


def _entry(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ENTRY)
    data.update(changes)
    return data


def test_currency_amount_is_a_frozen_hashable_value() -> None:
    amount = CurrencyAmount("EUR", 100)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        amount.amount = 5  # type: ignore[misc]
    assert hash(amount) == hash(CurrencyAmount("EUR", 100))
    assert attrs.evolve(amount, amount=5) == CurrencyAmount("EUR", 5)


def test_an_amount_built_by_decoding_is_one_built_by_hand() -> None:
    # Decoding sets the slots of a frozen instance directly: that is only the same as the
    # constructor while the class has nothing else to run.
    assert all(f.validator is None and f.converter is None for f in attrs.fields(CurrencyAmount))
    assert not hasattr(CurrencyAmount, "__attrs_post_init__")
    decoded = structure(ENTRY, StatementEntry).balance_after
    by_hand = CurrencyAmount("EUR", 8500)
    assert decoded == by_hand
    assert hash(decoded) == hash(by_hand)
    assert repr(decoded) == repr(by_hand)
    assert type(decoded) is CurrencyAmount
    assert pickle.loads(pickle.dumps(decoded)) == by_hand
    assert attrs.asdict(decoded) == {"currency": "EUR", "amount": 8500}


def test_equal_amounts_one_after_another_are_one_instance() -> None:
    entry = structure(ENTRY, StatementEntry)
    assert entry.transaction_amount is entry.available_balance_adjustment
    assert entry.available_balance_adjustment is entry.actual_balance_adjustment
    assert entry.balance_after is entry.available_balance_after is entry.actual_balance_after
    assert entry.transaction_amount is not entry.balance_after
    assert entry.transaction_fee == CurrencyAmount("EUR", 0)


def test_a_page_shares_its_words_and_currency_codes() -> None:
    page = [_entry(transactionId={"type": "SETTLEMENT", "id": str(i)}) for i in range(3)]
    first, *rest = structure_many(page, StatementEntry)
    for entry in rest:
        assert entry.entry_state is first.entry_state
        assert entry.transaction_id.type is first.transaction_id.type
        assert entry.balance_after is not None
        assert first.balance_after is not None
        assert entry.balance_after.currency is first.balance_after.currency


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("amount", True, TypeError),  # True == 1, but not an int
        ("amount", 8500.0, TypeError),  # equal to the amount before, but a float
        ("amount", "8500", TypeError),
        ("amount", None, TypeError),
        ("amount", 2**63, ValueError),
        ("currency", 978, TypeError),
        ("currency", None, TypeError),
        ("currency", ["EUR"], TypeError),
    ],
)
def test_a_value_equal_to_the_amount_before_is_still_checked(
    field: str, value: Any, error: type[Exception]
) -> None:
    before = {"currency": "EUR", "amount": 1 if value is True else 8500}
    after = dict(before, **{field: value})
    data = _entry(balanceAfter=before, availableBalanceAfter=after)
    for decode in (
        lambda: structure(data, StatementEntry),
        lambda: structure_many([ENTRY, data], StatementEntry),
    ):
        with pytest.raises(error) as raised:
            decode()
        assert f"CurrencyAmount.{field}" in str(raised.value)
        assert "available_balance_after" in str(raised.value)


def test_nothing_decoded_is_equal_to_the_amount_before_the_first() -> None:
    assert NO_AMOUNT.amount is None
    assert NO_AMOUNT.currency is None
    for amount in (0, -1, 2**63 - 1):
        data = _entry(transactionAmount={"currency": "EUR", "amount": amount})
        decoded = structure(data, StatementEntry).transaction_amount
        assert decoded == CurrencyAmount("EUR", amount)
        assert decoded is not NO_AMOUNT


def test_a_page_with_a_bad_entry_names_it_like_a_single_decode() -> None:
    bad = _entry(entryState=7)
    with pytest.raises(TypeError, match=r"StatementEntry\.entry_state: expected str, got int"):
        structure_many([ENTRY, ENTRY, bad, ENTRY], StatementEntry)
    with pytest.raises(TypeError, match=r"^StatementEntry: expected object, got list"):
        structure_many([ENTRY, []], StatementEntry)
    assert structure_many([], StatementEntry) == []


def test_other_models_with_shared_fields_decode_as_before() -> None:
    transfer = {
        "id": "1",
        "profileId": "p",
        "source": {"type": "managed_accounts", "id": "a"},
        "destination": {"type": "managed_cards", "id": "c"},
        "destinationAmount": {"currency": "EUR", "amount": 10},
        "state": "COMPLETED",
        "creationTimestamp": 1,
    }
    one, two = structure_many([transfer, dict(transfer, id="2")], Transfer)
    assert one.destination_amount == CurrencyAmount("EUR", 10)
    assert one.state is two.state == "COMPLETED"
    with pytest.raises(TypeError, match=r"Transfer\.state"):
        structure(dict(transfer, state=1), Transfer)
