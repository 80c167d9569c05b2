"""Every operation through its documented name, against the simulator: happy and error paths."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest

from weavr_async import (
    BackOffice,
    CardSpendRules,
    CardSpendRulesUpdate,
    Conflict,
    CurrencyAmount,
    Forbidden,
    Identity,
    IdentitySession,
    InstrumentRef,
    Mobile,
    NewTransfer,
    NotFound,
    SpendLimit,
)
from weavr_async.testing import FakeBackOffice


@pytest.fixture
def acme(bo: BackOffice, corp: Identity) -> IdentitySession:
    return bo.identity(corp)


async def test_managed_account_get(fake: FakeBackOffice, acme: IdentitySession) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="GBP", history=30)
    got = await acme.managed_accounts.get(account.id)
    assert got.id == account.id
    assert got.currency == "GBP"
    assert got.balances.actual_balance == fake.instrument_balance(account)
    assert got.state.state == "ACTIVE"


async def test_instrument_of_another_identity_is_forbidden(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    other = fake.add_identity("CONSUMER")
    theirs = fake.add_managed_account(other.id, currency="EUR")
    with pytest.raises(Forbidden) as caught:
        await acme.managed_accounts.get(theirs.id)
    assert caught.value.status == 403


async def test_account_statement_collects_the_whole_history(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR", history=1234)
    entries = await acme.managed_accounts.statement(account.id, order="ASC").collect()
    ledger = fake.ledger(account)
    assert len(entries) == len(ledger) == 1234
    assert [e.transaction_id.id for e in entries] == [e["transactionId"]["id"] for e in ledger]
    assert entries == sorted(entries, key=lambda e: e.processed_timestamp)


async def test_card_statement_is_newest_first_by_default(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    card = fake.add_managed_card(acme.identity.id, currency="EUR", history=250)
    stream = acme.managed_cards.statement(card.id)
    entries = await stream.collect()
    assert len(entries) == 250
    stamps = [e.processed_timestamp for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    # Pages of the card endpoint's cap, 100.
    assert stream.progress.pages == 3


async def test_statement_filters_travel_as_the_api_expects(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR", history=400)
    ledger = fake.ledger(account)
    lo = ledger[100]["processedTimestamp"]
    hi = ledger[300]["processedTimestamp"]
    entries = await acme.managed_accounts.statement(
        account.id,
        order="ASC",
        from_timestamp=dt.datetime.fromtimestamp(lo / 1000, tz=dt.UTC),
        to_timestamp=hi,
        transaction_types=["DEPOSIT", "SETTLEMENT"],
    ).collect()
    expected = [
        e["transactionId"]["id"]
        for e in ledger
        if lo <= e["processedTimestamp"] < hi
        and e["transactionId"]["type"] in ("DEPOSIT", "SETTLEMENT")
    ]
    assert [e.transaction_id.id for e in entries] == expected
    assert expected


async def test_download_statement_streams_csv_and_pdf_to_disk(
    fake: FakeBackOffice, acme: IdentitySession, tmp_path: Path
) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR", history=50)
    csv_path = tmp_path / "statement.csv"
    written = await acme.managed_accounts.download_statement(
        account.id, csv_path, format="csv", limit=50
    )
    body = csv_path.read_bytes()
    assert written == len(body)
    assert len(body.decode().strip().splitlines()) == 51
    card = fake.add_managed_card(acme.identity.id, currency="EUR", history=5)
    pdf_path = tmp_path / "card.pdf"
    await acme.managed_cards.download_statement(card.id, pdf_path, format="pdf")
    assert pdf_path.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.pdf", "statement.csv"]


async def test_failed_download_leaves_no_file(
    fake: FakeBackOffice, acme: IdentitySession, tmp_path: Path
) -> None:
    with pytest.raises(NotFound):
        await acme.managed_accounts.download_statement("424242", tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


async def test_managed_card_lifecycle(fake: FakeBackOffice, acme: IdentitySession) -> None:
    card = fake.add_managed_card(acme.identity.id, currency="EUR")
    got = await acme.managed_cards.get(card.id)
    assert got.id == card.id
    assert got.mode == "PREPAID_MODE"
    assert got.balances is not None
    await acme.managed_cards.block(card.id)
    assert (await acme.managed_cards.get(card.id)).state.state == "BLOCKED"
    with pytest.raises(Conflict, match="INSTRUMENT_ALREADY_BLOCKED"):
        await acme.managed_cards.block(card.id)
    await acme.managed_cards.unblock(card.id)
    with pytest.raises(Conflict) as not_blocked:
        await acme.managed_cards.unblock(card.id)
    assert not_blocked.value.error_code == "INSTRUMENT_NOT_BLOCKED"
    await acme.managed_cards.set_renewal_type(card.id, "NO_RENEW")
    assert (await acme.managed_cards.get(card.id)).renewal_type == "NO_RENEW"
    await acme.managed_cards.remove(card.id)
    assert (await acme.managed_cards.get(card.id)).state.state == "DESTROYED"
    with pytest.raises(Conflict) as removed:
        await acme.managed_cards.remove(card.id)
    assert removed.value.error_code == "INSTRUMENT_ALREADY_REMOVED"
    with pytest.raises(Conflict) as destroyed:
        await acme.managed_cards.block(card.id)
    assert destroyed.value.error_code == "INSTRUMENT_DESTROYED"


async def test_card_with_balance_cannot_be_removed(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    card = fake.add_managed_card(acme.identity.id, currency="EUR", history=20)
    assert fake.instrument_balance(card) != 0
    with pytest.raises(Conflict) as caught:
        await acme.managed_cards.remove(card.id)
    assert caught.value.error_code == "BALANCE_NOT_ZERO"


async def test_debit_card_reports_its_parent_account(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR", history=10)
    card = fake.add_managed_card(
        acme.identity.id, currency="EUR", mode="DEBIT_MODE", parent_account=account
    )
    got = await acme.managed_cards.get(card.id)
    assert got.mode == "DEBIT_MODE"
    assert got.parent_managed_account_id == account.id


async def test_spend_rules_create_get_update_delete(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR")
    card = fake.add_managed_card(
        acme.identity.id, currency="EUR", mode="DEBIT_MODE", parent_account=account
    )
    rules = acme.managed_cards.spend_rules
    limit = SpendLimit(CurrencyAmount("EUR", 50_000), "MONTHLY")
    await rules.create(card.id, CardSpendRules(allow_atm=False, spend_limit=[limit]))
    with pytest.raises(Conflict) as again:
        await rules.create(card.id, CardSpendRules(allow_atm=True))
    assert again.value.error_code == "SPEND_RULE_ALREADY_SET"
    current = await rules.get(card.id)
    assert current.card_level_spend_rules is not None
    assert current.card_level_spend_rules.allow_atm is False
    increment = SpendLimit(CurrencyAmount("EUR", 1_000), "MONTHLY")
    await rules.update(card.id, CardSpendRules(spend_limit=[increment]), method="INCREMENT")
    updated = await rules.get(card.id)
    assert updated.card_level_spend_rules is not None
    assert updated.card_level_spend_rules.spend_limit is not None
    assert updated.card_level_spend_rules.spend_limit[0].value.amount == 51_000
    await rules.delete(card.id)
    cleared = await rules.get(card.id)
    assert cleared.card_level_spend_rules is None or not cleared.card_level_spend_rules.spend_limit


async def test_spend_limit_in_another_currency_conflicts(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR")
    card = fake.add_managed_card(
        acme.identity.id, currency="EUR", mode="DEBIT_MODE", parent_account=account
    )
    wrong = SpendLimit(CurrencyAmount("USD", 100), "DAILY")
    with pytest.raises(Conflict) as caught:
        await acme.managed_cards.spend_rules.create(card.id, CardSpendRules(spend_limit=[wrong]))
    assert caught.value.error_code == "SPEND_LIMIT_CURRENCY_DIFFERENT_FROM_CARD_CURRENCY"


async def test_transfers_create_get_and_list(fake: FakeBackOffice, acme: IdentitySession) -> None:
    source = fake.add_managed_account(acme.identity.id, currency="EUR", history=40)
    target = fake.add_managed_card(acme.identity.id, currency="EUR")
    before = fake.instrument_balance(source)
    created = await acme.transfers.create(
        profile_id="1",
        source=InstrumentRef.managed_account(source.id),
        destination=InstrumentRef.managed_card(target.id),
        amount=CurrencyAmount("EUR", 250),
        tag="rent",
        description="March rent",
    )
    assert created.state == "COMPLETED"
    assert created.tag == "rent"
    assert fake.instrument_balance(source) == before - 250
    assert (await acme.transfers.get(created.id)).id == created.id
    listed = await acme.transfers.list(tag="rent").collect()
    assert [t.id for t in listed] == [created.id]
    by_source = await acme.transfers.list(
        instrument=InstrumentRef.managed_account(source.id)
    ).collect()
    assert created.id in {t.id for t in by_source}


async def test_transfer_conflicts_are_typed(fake: FakeBackOffice, acme: IdentitySession) -> None:
    poor = fake.add_managed_account(acme.identity.id, currency="EUR")
    other = fake.add_managed_account(acme.identity.id, currency="GBP", history=10)
    with pytest.raises(Conflict) as insufficient:
        await acme.transfers.create(
            profile_id="1",
            source=InstrumentRef.managed_account(poor.id),
            destination=InstrumentRef.managed_account(other.id),
            amount=CurrencyAmount("EUR", 10),
        )
    assert insufficient.value.error_code in {"FUNDS_INSUFFICIENT", "CURRENCY_MISMATCH"}
    with pytest.raises(Conflict) as same:
        await acme.transfers.create(
            profile_id="1",
            source=InstrumentRef.managed_account(other.id),
            destination=InstrumentRef.managed_account(other.id),
            amount=CurrencyAmount("GBP", 1),
        )
    assert same.value.error_code == "SOURCE_AND_DESTINATION_MUST_BE_DIFFERENT"


async def test_explicit_idempotency_ref_replays_instead_of_repeating(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    source = fake.add_managed_account(acme.identity.id, currency="EUR", history=30)
    target = fake.add_managed_account(acme.identity.id, currency="EUR")
    kwargs = {
        "profile_id": "1",
        "source": InstrumentRef.managed_account(source.id),
        "destination": InstrumentRef.managed_account(target.id),
        "amount": CurrencyAmount("EUR", 70),
        "idempotency_ref": "order-2024-0001",
    }
    first = await acme.transfers.create(**kwargs)  # type: ignore[arg-type]
    second = await acme.transfers.create(**kwargs)  # type: ignore[arg-type]
    assert first.id == second.id
    assert fake.instrument_balance(target) == 70


async def test_fees_charge(fake: FakeBackOffice, acme: IdentitySession) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR", history=30)
    before = fake.instrument_balance(account)
    fee_type, amount = next(iter(fake.fee_types.items()))
    charge = await acme.fees.charge(fee_type, InstrumentRef.managed_account(account.id))
    assert charge.fee_type == fee_type
    assert charge.transaction_id.type == "CHARGE_FEE"
    assert fake.instrument_balance(account) == before - amount
    with pytest.raises(Conflict) as unknown:
        await acme.fees.charge("NO_SUCH_FEE", InstrumentRef.managed_account(account.id))
    assert unknown.value.error_code == "UNRESOLVED_FEE_TYPE"


async def test_deprecated_operations_warn_and_work(fake: FakeBackOffice, bo: BackOffice) -> None:
    corporate = fake.add_identity("CORPORATE")
    consumer = fake.add_identity("CONSUMER")
    corp_account = fake.add_managed_account(corporate.id, currency="EUR", history=30)
    cons_account = fake.add_managed_account(consumer.id, currency="EUR", history=30)
    fee_type = next(iter(fake.fee_types))
    corp_session = bo.identity(Identity.corporate(corporate.id))
    cons_session = bo.identity(Identity.consumer(consumer.id))
    with pytest.warns(DeprecationWarning, match="corporateChargeFee.*use fees.charge"):
        charged = await corp_session.corporates.charge_fee(
            fee_type, InstrumentRef.managed_account(corp_account.id)
        )
    assert charged.fee_type == fee_type
    with pytest.warns(DeprecationWarning, match="consumerChargeFee"):
        await cons_session.consumers.charge_fee(
            fee_type, InstrumentRef.managed_account(cons_account.id)
        )
    with pytest.warns(DeprecationWarning, match="impersonateIdentityLogin.*POST /access_token"):
        token = await corp_session.impersonate_identity_login()
    assert token.token.reveal()
    assert token.token.reveal() not in repr(token)


async def test_a_deprecated_call_warns_once_at_the_callers_line(
    fake: FakeBackOffice, bo: BackOffice
) -> None:
    corporate = fake.add_identity("CORPORATE")
    account = fake.add_managed_account(corporate.id, currency="EUR", history=30)
    session = bo.identity(Identity.corporate(corporate.id))
    source = InstrumentRef.managed_account(account.id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Two depths of the SDK's own frames: charge_fee calls _call directly, the
        # impersonation goes through the session and a resource first.
        await session.corporates.charge_fee(next(iter(fake.fee_types)), source)
        await session.impersonate_identity_login()
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [str(w.message).split()[0] for w in deprecations] == [
        "corporateChargeFee",
        "impersonateIdentityLogin",
    ]
    assert {w.filename for w in deprecations} == {__file__}


async def test_users_create_invite_deactivate(fake: FakeBackOffice, acme: IdentitySession) -> None:
    user = await acme.users.create(
        name="Ada",
        surname="Lovelace",
        email="ada@example.com",
        mobile=Mobile("+44", "7700900123"),
        date_of_birth=dt.date(1990, 12, 10),
        roles=["CARD_ASSIGNEE"],
    )
    assert user.active
    assert user.identity == acme.identity
    assert user.email == "ada@example.com"
    await acme.users.invite(user.id)
    await acme.users.deactivate(user.id)
    with pytest.raises(Conflict) as dup:
        await acme.users.create(name="A", surname="B", email="ada@example.com")
    assert dup.value.error_code == "EMAIL_NOT_UNIQUE"
    with pytest.raises(NotFound):
        await acme.users.invite("987654321")


async def test_bulk_transfers_lifecycle(fake: FakeBackOffice, acme: IdentitySession) -> None:
    fake.bulk_auto_run = False
    source = fake.add_managed_account(acme.identity.id, currency="EUR", history=40)
    target = fake.add_managed_account(acme.identity.id, currency="EUR")
    transfers = [
        NewTransfer(
            profile_id="1",
            source=InstrumentRef.managed_account(source.id),
            destination=InstrumentRef.managed_account(target.id),
            destination_amount=CurrencyAmount("EUR", 1 + i),
        )
        for i in range(5)
    ]
    submitted = await acme.bulks.create_transfers(transfers)
    assert submitted.bulk_id
    assert submitted.operation_count == 5
    bulk_id = submitted.bulk_id
    assert (await acme.bulks.get(bulk_id)).status == "SUBMITTED"
    await acme.bulks.execute(bulk_id, mode="ON_FAILURE_CONTINUE")
    fake.advance_bulks(2)
    await acme.bulks.pause(bulk_id)
    assert (await acme.bulks.get(bulk_id)).status == "PAUSED"
    with pytest.raises(Conflict) as paused:
        await acme.bulks.pause(bulk_id)
    assert paused.value.error_code == "INVALID_STATE"
    await acme.bulks.resume(bulk_id)
    await acme.bulks.cancel(bulk_id)
    details = await acme.bulks.get(bulk_id)
    assert details.status == "CANCELLED"
    operations = await acme.bulks.operations(bulk_id).collect()
    assert [op.sequence for op in operations] == sorted(op.sequence or 0 for op in operations)
    statuses = [op.status for op in operations]
    assert statuses.count("COMPLETED") == 2
    assert statuses.count("CANCELLED") == 3
    assert fake.instrument_balance(target) == 1 + 2
    completed = await acme.bulks.operations(bulk_id, status="COMPLETED").collect()
    assert len(completed) == 2
    listed = await acme.bulks.list().collect()
    assert bulk_id in {b.bulk_id for b in listed}


async def test_bulk_spend_rules_update_runs(fake: FakeBackOffice, acme: IdentitySession) -> None:
    account = fake.add_managed_account(acme.identity.id, currency="EUR")
    cards = [
        fake.add_managed_card(
            acme.identity.id, currency="EUR", mode="DEBIT_MODE", parent_account=account
        )
        for _ in range(3)
    ]
    updates = [
        CardSpendRulesUpdate(card_id=c.id, rules=CardSpendRules(allow_contactless=False))
        for c in cards
    ]
    submitted = await acme.bulks.update_card_spend_rules(updates)
    assert submitted.operation_count == 3
    assert submitted.bulk_id
    await acme.bulks.execute(submitted.bulk_id)
    assert (await acme.bulks.get(submitted.bulk_id)).status == "COMPLETED"
    for card in cards:
        rules = await acme.managed_cards.spend_rules.get(card.id)
        assert rules.card_level_spend_rules is not None
        assert rules.card_level_spend_rules.allow_contactless is False
    with pytest.raises(Conflict):
        await acme.bulks.execute(submitted.bulk_id)


def test_seeded_identities_name_themselves_as_the_sdk_does(fake: FakeBackOffice) -> None:
    consumer = fake.add_identity("CONSUMER")
    assert consumer.identity == Identity.consumer(consumer.id)
    assert fake.add_identity("CORPORATE").identity.type == "CORPORATE"
