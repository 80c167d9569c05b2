"""What the seeding methods refuse."""

from __future__ import annotations

import pytest

from weavr_async.testing import FakeBackOffice, SeededIdentity


def test_an_unknown_instrument_is_a_key_error(sim: FakeBackOffice) -> None:
    with pytest.raises(KeyError):
        sim.instrument_balance("31337")


def test_a_debit_card_needs_a_parent_account(sim: FakeBackOffice, corp: SeededIdentity) -> None:
    with pytest.raises(ValueError, match="a DEBIT_MODE card needs parent_account"):
        sim.add_managed_card(corp, mode="DEBIT_MODE")


def test_only_a_debit_card_takes_a_parent_account(
    sim: FakeBackOffice, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp)
    with pytest.raises(ValueError, match="parent_account is only for DEBIT_MODE cards"):
        sim.add_managed_card(corp, parent_account=acct)


def test_seeded_transfers_need_two_fund_holding_instruments(sim: FakeBackOffice) -> None:
    with pytest.raises(ValueError, match="two fund-holding instruments"):
        sim.add_transfers(sim.add_identity("CONSUMER"))


def test_the_ledger_is_a_copy(sim: FakeBackOffice, corp: SeededIdentity) -> None:
    acct = sim.add_managed_account(corp, history=5)
    entries = sim.ledger(acct)
    entries[0]["transactionAmount"]["amount"] = 1
    assert sim.ledger(acct)[0]["transactionAmount"]["amount"] != 1


def test_a_seeded_instrument_names_its_identity(sim: FakeBackOffice) -> None:
    other = sim.add_identity("CORPORATE")
    assert sim.add_managed_account(other).identity_id == other.id
    assert sim.add_managed_card(other).identity_id == other.id
