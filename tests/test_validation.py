"""Hostile and mistaken input: each is refused on the client, naming the field, sending nothing."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from weavr_async import (
    BackOffice,
    CardSpendRules,
    CardSpendRulesUpdate,
    CurrencyAmount,
    Identity,
    IdentitySession,
    InstrumentRef,
    InvalidRequest,
    Mobile,
    NewTransfer,
    SpendLimit,
)
from weavr_async.testing import FakeBackOffice

ACCOUNT = InstrumentRef.managed_account("11")
CARD = InstrumentRef.managed_card("12")
EUR = CurrencyAmount("EUR", 100)
NAIVE = dt.datetime(2024, 1, 1)
AWARE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def transfer(**changes: Any) -> NewTransfer:
    fields: dict[str, Any] = {
        "profile_id": "1",
        "source": ACCOUNT,
        "destination": CARD,
        "destination_amount": EUR,
    }
    fields.update(changes)
    return NewTransfer(**fields)


Call = Callable[[IdentitySession], Any]

CASES: list[tuple[str, Call, str]] = [
    # ids: non-digits, traversal, wrong type, empty, absurdly long
    ("account id traversal", lambda s: s.managed_accounts.get("../../users"), "account_id"),
    ("account id letters", lambda s: s.managed_accounts.get("12a"), "account_id"),
    ("account id empty", lambda s: s.managed_accounts.get(""), "account_id"),
    ("account id int", lambda s: s.managed_accounts.get(12), "account_id"),  # type: ignore[arg-type]
    ("account id too long", lambda s: s.managed_accounts.get("1" * 41), "account_id"),
    ("account id url-encoded", lambda s: s.managed_accounts.get("1%2F2"), "account_id"),
    ("card id with query", lambda s: s.managed_cards.get("1?x=2"), "card_id"),
    ("card id negative", lambda s: s.managed_cards.block("-1"), "card_id"),
    ("card id whitespace", lambda s: s.managed_cards.unblock(" 1"), "card_id"),
    ("card id newline", lambda s: s.managed_cards.remove("1\n"), "card_id"),
    ("transfer id unicode digits", lambda s: s.transfers.get("١٢٣"), "transfer_id"),
    ("user id slash", lambda s: s.users.invite("1/2"), "user_id"),
    ("user id none", lambda s: s.users.deactivate(None), "user_id"),  # type: ignore[arg-type]
    ("bulk id dots", lambda s: s.bulks.get(".."), "bulk_id"),
    ("bulk id in pause", lambda s: s.bulks.pause("x"), "bulk_id"),
    # page sizes and concurrency
    ("account page 501", lambda s: s.managed_accounts.statement("1", page_size=501), "page_size"),
    ("account page 0", lambda s: s.managed_accounts.statement("1", page_size=0), "page_size"),
    ("card page 101", lambda s: s.managed_cards.statement("1", page_size=101), "page_size"),
    ("card page negative", lambda s: s.managed_cards.statement("1", page_size=-5), "page_size"),
    ("transfers page float", lambda s: s.transfers.list(page_size=10.5), "page_size"),  # type: ignore[arg-type]
    ("bulk ops page bool", lambda s: s.bulks.operations("1", page_size=True), "page_size"),
    ("concurrency 0", lambda s: s.transfers.list(concurrency=0), "concurrency"),
    # time ranges
    (
        "inverted range",
        lambda s: s.managed_accounts.statement("1", from_timestamp=2000, to_timestamp=1000),
        "to_timestamp",
    ),
    (
        "empty range",
        lambda s: s.managed_cards.statement("1", from_timestamp=AWARE, to_timestamp=AWARE),
        "to_timestamp",
    ),
    (
        "naive datetime",
        lambda s: s.managed_accounts.statement("1", from_timestamp=NAIVE),
        "from_timestamp",
    ),
    (
        "negative epoch",
        lambda s: s.managed_accounts.statement("1", to_timestamp=-1),
        "to_timestamp",
    ),
    ("string epoch", lambda s: s.transfers.list(created_from="yesterday"), "created_from"),  # type: ignore[arg-type]
    ("inverted created", lambda s: s.transfers.list(created_from=5, created_to=4), "created_to"),
    # enums and lists
    ("bad order", lambda s: s.managed_accounts.statement("1", order="NEWEST"), "order"),  # type: ignore[arg-type]
    ("lowercase order", lambda s: s.managed_cards.statement("1", order="asc"), "order"),  # type: ignore[arg-type]
    (
        "bad tx type",
        lambda s: s.managed_accounts.statement("1", transaction_types=["WIRE"]),
        "transaction_types",
    ),
    (
        "tx types as str",
        lambda s: s.managed_accounts.statement("1", transaction_types="DEPOSIT"),
        "transaction_types",
    ),
    (
        "duplicate tx types",
        lambda s: s.managed_accounts.statement("1", transaction_types=["DEPOSIT", "DEPOSIT"]),
        "transaction_types",
    ),
    ("bad state", lambda s: s.transfers.list(states=["DONE"]), "states"),
    ("bad bulk status", lambda s: s.bulks.list(status="DONE"), "status"),
    ("bad bulk op status", lambda s: s.bulks.operations("1", status="PAUSED"), "status"),
    (
        "flag not bool",
        lambda s: s.managed_accounts.statement("1", single_entry_per_transaction="yes"),  # type: ignore[arg-type]
        "single_entry_per_transaction",
    ),
    ("bad renewal", lambda s: s.managed_cards.set_renewal_type("1", "SOMETIMES"), "renewal_type"),  # type: ignore[arg-type]
    ("bad bulk mode", lambda s: s.bulks.execute("1", mode="YOLO"), "mode"),  # type: ignore[arg-type]
    (
        "bad spend method",
        lambda s: s.managed_cards.spend_rules.update("1", CardSpendRules(), method="ADD"),  # type: ignore[arg-type]
        "method",
    ),
    # money and transfers
    (
        "lowercase currency",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=CurrencyAmount("eur", 1)
        ),
        "transfer.destination_amount.currency",
    ),
    (
        "long currency",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=CurrencyAmount("EURO", 1)
        ),
        "transfer.destination_amount.currency",
    ),
    (
        "float amount",
        lambda s: s.transfers.create(
            profile_id="1",
            source=ACCOUNT,
            destination=CARD,
            amount=CurrencyAmount("EUR", 1.5),  # type: ignore[arg-type]
        ),
        "transfer.destination_amount.amount",
    ),
    (
        "zero amount",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=CurrencyAmount("EUR", 0)
        ),
        "transfer.destination_amount.amount",
    ),
    (
        "negative amount",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=CurrencyAmount("EUR", -5)
        ),
        "transfer.destination_amount.amount",
    ),
    (
        "amount as tuple",
        lambda s: s.transfers.create(
            profile_id="1",
            source=ACCOUNT,
            destination=CARD,
            amount=("EUR", 5),  # type: ignore[arg-type]
        ),
        "transfer.destination_amount",
    ),
    (
        "profile id letters",
        lambda s: s.transfers.create(profile_id="p1", source=ACCOUNT, destination=CARD, amount=EUR),
        "transfer.profile_id",
    ),
    (
        "source wrong type",
        lambda s: s.transfers.create(profile_id="1", source="11", destination=CARD, amount=EUR),  # type: ignore[arg-type]
        "transfer.source",
    ),
    (
        "source bad kind",
        lambda s: s.transfers.create(
            profile_id="1",
            source=InstrumentRef("wallets", "1"),  # type: ignore[arg-type]
            destination=CARD,
            amount=EUR,
        ),
        "transfer.source.type",
    ),
    (
        "destination bad id",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=InstrumentRef.managed_card("x"), amount=EUR
        ),
        "transfer.destination.id",
    ),
    (
        "tag with space",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=EUR, tag="a b"
        ),
        "transfer.tag",
    ),
    (
        "tag too long",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=EUR, tag="t" * 51
        ),
        "transfer.tag",
    ),
    (
        "description emoji",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=EUR, description="rent 🏠"
        ),
        "transfer.description",
    ),
    (
        "description too long",
        lambda s: s.transfers.create(
            profile_id="1", source=ACCOUNT, destination=CARD, amount=EUR, description="x" * 256
        ),
        "transfer.description",
    ),
    ("list tag filter", lambda s: s.transfers.list(tag="no spaces allowed"), "tag"),
    ("instrument filter str", lambda s: s.transfers.list(instrument="11"), "instrument"),  # type: ignore[arg-type]
    # fees and users
    ("fee source wrong", lambda s: s.fees.charge("MONTHLY_FEE", "11"), "source"),  # type: ignore[arg-type]
    ("fee type empty", lambda s: s.fees.charge("", ACCOUNT), "fee_type"),
    ("user email", lambda s: s.users.create(name="A", surname="B", email="not-an-email"), "email"),
    ("user name empty", lambda s: s.users.create(name="", surname="B", email="a@b.co"), "name"),
    (
        "user name long",
        lambda s: s.users.create(name="n" * 51, surname="B", email="a@b.co"),
        "name",
    ),
    (
        "user country",
        lambda s: s.users.create(name="A", surname="B", email="a@b.co", country_of_residence="gbr"),
        "country_of_residence",
    ),
    (
        "user locale",
        lambda s: s.users.create(name="A", surname="B", email="a@b.co", locale="english"),
        "locale",
    ),
    (
        "user mobile",
        lambda s: s.users.create(name="A", surname="B", email="a@b.co", mobile=Mobile("44", "1")),
        "mobile.country_code",
    ),
    (
        "user birth year",
        lambda s: s.users.create(
            name="A", surname="B", email="a@b.co", date_of_birth=dt.date(1850, 1, 1)
        ),
        "date_of_birth.year",
    ),
    (
        "user role",
        lambda s: s.users.create(name="A", surname="B", email="a@b.co", roles=["ROOT"]),
        "roles",
    ),
    # spend rules and bulks
    (
        "spend limit currency",
        lambda s: s.managed_cards.spend_rules.create(
            "1", CardSpendRules(spend_limit=[SpendLimit(CurrencyAmount("E", 1), "DAILY")])
        ),
        "rules.spend_limit[0].value.currency",
    ),
    (
        "spend limit interval",
        lambda s: s.managed_cards.spend_rules.create(
            "1", CardSpendRules(spend_limit=[SpendLimit(EUR, "HOURLY")])
        ),
        "rules.spend_limit[0].interval",
    ),
    (
        "negative min amount",
        lambda s: s.managed_cards.spend_rules.create(
            "1", CardSpendRules(min_transaction_amount=-1)
        ),
        "rules.min_transaction_amount",
    ),
    (
        "country list",
        lambda s: s.managed_cards.spend_rules.update(
            "1", CardSpendRules(blocked_merchant_countries=["Malta"])
        ),
        "rules.blocked_merchant_countries",
    ),
    (
        "too many mccs",
        lambda s: s.managed_cards.spend_rules.create(
            "1", CardSpendRules(allowed_merchant_categories=["5411"] * 201)
        ),
        "rules.allowed_merchant_categories",
    ),
    (
        "rules not rules",
        lambda s: s.managed_cards.spend_rules.create("1", {"allowAtm": True}),  # type: ignore[arg-type]
        "rules",
    ),
    ("empty bulk transfers", lambda s: s.bulks.create_transfers([]), "transfers"),
    ("oversized bulk", lambda s: s.bulks.create_transfers([transfer()] * 10_001), "transfers"),
    (
        "bad item in bulk",
        lambda s: s.bulks.create_transfers([transfer(), transfer(tag="bad tag")]),
        "transfers[1].tag",
    ),
    ("bulk not a list", lambda s: s.bulks.create_transfers(transfer()), "transfers"),  # type: ignore[arg-type]
    ("empty bulk rules", lambda s: s.bulks.update_card_spend_rules([]), "updates"),
    (
        "bulk rules bad card",
        lambda s: s.bulks.update_card_spend_rules(
            [CardSpendRulesUpdate(card_id="x", rules=CardSpendRules())]
        ),
        "updates[0].card_id",
    ),
    ("webhook interval 0", lambda s: s.bulks.execute("1", webhook_interval=0), "webhook_interval"),
    (
        "idempotency ref empty",
        lambda s: s.fees.charge("MONTHLY_FEE", ACCOUNT, idempotency_ref=""),
        "idempotency_ref",
    ),
    (
        "download format",
        lambda s: s.managed_accounts.download_statement("1", "/tmp/x", format="xlsx"),  # type: ignore[arg-type]
        "format",
    ),
]


@pytest.mark.parametrize(("label", "call", "field"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_before_anything_is_sent(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, label: str, call: Call, field: str
) -> None:
    session = bo.identity(corp)

    async def attempt() -> None:
        result = call(session)  # a refusal may come at the call or when it is awaited
        if inspect.isawaitable(result):
            await result

    with pytest.raises(InvalidRequest) as caught:
        await attempt()
    assert caught.value.field == field, caught.value
    assert isinstance(caught.value, ValueError)
    assert fake.requests == [], label


def test_the_table_is_broad() -> None:
    assert len(CASES) >= 40
