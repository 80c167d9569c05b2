"""Every SDK operation against Stoplight Prism, an independent mock server of the contract.

Prism checks each request against the contract and lists what it finds in an ``sl-violations``
response header (a request that breaks the contract is answered 400, or 401 without
credentials). This suite sends every one of the 32 operations through the SDK, with its
optional parameters filled in, and fails on any violation Prism reports about a REQUEST.

Responses are not judged: Prism's generated bodies do not meet the contract's own patterns
(ids like ``"string"``), so the SDK may well fail to decode them; those errors are expected
and ignored. The simulator's answers are judged by the ``fake`` fixture of the main suite.

Run by ``.ci/prism-suite``, which starts Prism and sets ``PRISM_URL``. The file is named
``check_*.py`` so the default collection of ``make test`` leaves it out; give its path to
pytest to run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import attrs
import pytest
from yarl import URL

from weavr_async import (
    BackOffice,
    CardSpendRules,
    CardSpendRulesUpdate,
    CurrencyAmount,
    Identity,
    IdentitySession,
    InstrumentRef,
    Mobile,
    NewTransfer,
    Retry,
    RolloverPolicy,
    SpendLimit,
    Stream,
    WeavrError,
)
from weavr_async.testing.contract import operation_for, operation_ids

ACCOUNT = InstrumentRef.managed_account("110000000001")
CARD = InstrumentRef.managed_card("120000000002")
CORPORATE = Identity.corporate("100000000001")
CONSUMER = Identity.consumer("100000000002")
BULK_ID = "130000000003"
USER_ID = "140000000004"
TRANSFER_ID = "150000000005"
FROM = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
TO = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
CALL_TIMEOUT = 15.0


@attrs.frozen
class Exchange:
    """One request as Prism saw it: what was sent and the request violations it reported."""

    method: str
    path: str  # relative to the API base, as in the contract
    query: tuple[tuple[str, str], ...]
    status: int
    violations: tuple[str, ...]

    @property
    def operation_id(self) -> str | None:
        return operation_for(self.method, self.path)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}{'?' + query if query else ''}"


def is_known_false_positive(method: str, path: str, query_keys: set[str], v: Any) -> bool:
    """Prism 5 reports the optional object query parameter ``instrumentId`` of GET /transfers
    (form-exploded: its ``id`` and ``type`` travel as top-level keys) as missing ``id`` and
    ``type`` even when the filter is left out altogether. Exactly that case is exempt: a filter
    given in part still counts."""
    return (
        method == "GET"
        and path == "/transfers"
        and v.get("location") == ["request", "query", "instrumentid"]
        and v.get("code") == "required"
        and not query_keys & {"id", "type"}
    )


class PrismTrace:
    """Collects Prism's verdict on every request of a session, through aiohttp tracing."""

    def __init__(self, base_path: str) -> None:
        self.base_path = base_path.rstrip("/")
        self.exchanges: list[Exchange] = []
        self.problems: list[str] = []

    def config(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._on_request_end)
        trace.on_request_exception.append(self._on_request_exception)
        return trace

    def _relative(self, url: Any) -> str:
        path: str = url.path
        return path[len(self.base_path) :] if path.startswith(self.base_path) else path

    async def _on_request_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        method, path = params.method.upper(), self._relative(params.url)
        query = tuple(params.url.query.items())
        keys = {k for k, _ in query}
        raw = params.response.headers.get("sl-violations", "[]")
        try:
            reported = json.loads(raw)
        except ValueError:
            self.problems.append(f"{method} {path}: unreadable sl-violations header {raw!r}")
            reported = []
        violations = tuple(
            f"{'.'.join(str(p) for p in v.get('location', []))}: {v.get('message')}"
            for v in reported
            if v.get("location", [""])[0] == "request"
            and not is_known_false_positive(method, path, keys, v)
        )
        self.exchanges.append(Exchange(method, path, query, params.response.status, violations))

    async def _on_request_exception(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        method, path = params.method.upper(), self._relative(params.url)
        self.problems.append(f"{method} {path}: no answer from Prism ({params.exception!r})")


@attrs.frozen
class Prism:
    bo: BackOffice
    acme: IdentitySession
    solo: IdentitySession
    trace: PrismTrace
    tmp: Path


@pytest.fixture
async def prism(tmp_path: Path) -> AsyncIterator[Prism]:
    base_url = os.environ.get("PRISM_URL")
    if not base_url:
        pytest.fail("PRISM_URL is not set: run .ci/prism-suite (it starts Prism and sets it)")
    trace = PrismTrace(URL(base_url).path)
    async with (
        aiohttp.ClientSession(trace_configs=[trace.config()]) as session,
        # No retries: each call is one request (plus the token request), judged once.
        BackOffice(
            "prism-api-key", base_url=base_url, session=session, retry=Retry.disabled()
        ) as bo,
    ):
        yield Prism(bo, bo.identity(CORPORATE), bo.identity(CONSUMER), trace, tmp_path)


async def first_page(stream: Stream[Any]) -> None:
    """Fetch one page: Prism's made-up counts say nothing about where a walk should end."""
    async with contextlib.aclosing(stream.pages()) as pages:
        async for _ in pages:
            break


def rules() -> CardSpendRules:
    return CardSpendRules(
        allowed_merchant_categories=["5411"],
        blocked_merchant_countries=["FR", "DE"],
        allow_contactless=True,
        allow_atm=False,
        allow_e_commerce=True,
        allow_cashback=False,
        allow_credit_authorisations=True,
        rollover_policy=RolloverPolicy(rollover_negative=False),
        spend_limit=[SpendLimit(CurrencyAmount("EUR", 50_000), "MONTHLY")],
        min_transaction_amount=1,
        max_transaction_amount=100_000,
    )


def new_transfer(amount: int) -> NewTransfer:
    return NewTransfer(
        profile_id="160000000006",
        source=ACCOUNT,
        destination=CARD,
        destination_amount=CurrencyAmount("EUR", amount),
        tag="rent",
        description="March rent",
    )


Driver = Callable[[Prism], Awaitable[object]]

# One call (or a few variants) per operation, with valid arguments.
DRIVERS: dict[str, Driver] = {
    "requestAccessToken": lambda p: p.bo.access_tokens.create(CONSUMER),
    "impersonateIdentityLogin": lambda p: p.acme.impersonate_identity_login(CONSUMER),
    "bulks": lambda p: first_page(p.acme.bulks.list(status="RUNNING", page_size=50)),
    "bulksTransferCreate": lambda p: p.acme.bulks.create_transfers(
        [new_transfer(100), new_transfer(200)], idempotency_ref="bulk-transfers-1"
    ),
    "bulksManagedCardSpendRulesUpdate": lambda p: p.acme.bulks.update_card_spend_rules(
        [CardSpendRulesUpdate(card_id=CARD.id, rules=rules(), method="INCREMENT")],
        idempotency_ref="bulk-rules-1",
    ),
    "bulkId": lambda p: p.acme.bulks.get(BULK_ID),
    "bulkIdOperations": lambda p: first_page(
        p.acme.bulks.operations(BULK_ID, status="COMPLETED", sequence=3, page_size=20)
    ),
    "bulkIdExecute": lambda p: p.acme.bulks.execute(
        BULK_ID, mode="ON_FAILURE_CONTINUE", webhook_interval=10
    ),
    "bulkIdPause": lambda p: p.acme.bulks.pause(BULK_ID),
    "bulkIdResume": lambda p: p.acme.bulks.resume(BULK_ID),
    "bulkIdCancel": lambda p: p.acme.bulks.cancel(BULK_ID),
    "chargeFee": lambda p: p.acme.fees.charge("MONTHLY_FEE", ACCOUNT, idempotency_ref="fee-1"),
    "corporateChargeFee": lambda p: p.acme.corporates.charge_fee("MONTHLY_FEE", CARD),
    "consumerChargeFee": lambda p: p.solo.consumers.charge_fee("MONTHLY_FEE", ACCOUNT),
    "managedAccountGet": lambda p: p.acme.managed_accounts.get(ACCOUNT.id),
    "managedAccountStatement": lambda p: statements(p, "managed_accounts"),
    "managedCardGet": lambda p: p.acme.managed_cards.get(CARD.id),
    "managedCardRenewalTypeUpdate": lambda p: p.acme.managed_cards.set_renewal_type(
        CARD.id, "NO_RENEW", idempotency_ref="renewal-1"
    ),
    "managedCardRemove": lambda p: p.acme.managed_cards.remove(CARD.id),
    "managedCardBlock": lambda p: p.acme.managed_cards.block(CARD.id),
    "managedCardUnblock": lambda p: p.acme.managed_cards.unblock(CARD.id),
    "managedCardSpendRulesGet": lambda p: p.acme.managed_cards.spend_rules.get(CARD.id),
    "managedCardSpendRulesCreate": lambda p: p.acme.managed_cards.spend_rules.create(
        CARD.id, rules()
    ),
    "managedCardSpendRulesUpdate": lambda p: p.acme.managed_cards.spend_rules.update(
        CARD.id, rules(), method="OVERWRITE", idempotency_ref="rules-1"
    ),
    "managedCardSpendRulesDelete": lambda p: p.acme.managed_cards.spend_rules.delete(CARD.id),
    "managedCardStatement": lambda p: statements(p, "managed_cards"),
    "transferCreate": lambda p: p.acme.transfers.create(
        profile_id="160000000006",
        source=ACCOUNT,
        destination=CARD,
        amount=CurrencyAmount("EUR", 1_250),
        tag="rent",
        description="March rent",
        scheduled_at=TO,
        idempotency_ref="transfer-1",
    ),
    "transfersGet": lambda p: transfer_lists(p),
    "transferGet": lambda p: p.acme.transfers.get(TRANSFER_ID),
    "userCreate": lambda p: p.acme.users.create(
        name="Ada",
        surname="Lovelace",
        email="ada@example.com",
        mobile=Mobile("+44", "7700900123"),
        date_of_birth=dt.date(1990, 12, 10),
        tag="ops",
        country_of_residence="GB",
        locale="en-GB",
        brand="weavr",
        roles=["CARD_ASSIGNEE", "FUNDS_MANAGEMENT_ROLE"],
        idempotency_ref="user-1",
    ),
    "userDeactivate": lambda p: p.acme.users.deactivate(USER_ID),
    "userInviteSend": lambda p: p.acme.users.invite(USER_ID),
}


async def statements(p: Prism, kind: str) -> None:
    """A JSON page with every filter, then the CSV and PDF exports (the accept header)."""
    resource = p.acme.managed_accounts if kind == "managed_accounts" else p.acme.managed_cards
    instrument = ACCOUNT if kind == "managed_accounts" else CARD
    filters: dict[str, Any] = {
        "order": "ASC",
        "from_timestamp": FROM,
        "to_timestamp": TO,
        "transaction_types": ["DEPOSIT", "TRANSFER", "CHARGE_FEE"],
        "single_entry_per_transaction": True,
    }
    if kind == "managed_accounts":
        filters["show_fund_movements_only"] = True
    await call(first_page(resource.statement(instrument.id, page_size=50, **filters)))
    filters.pop("show_fund_movements_only", None)
    for fmt in ("csv", "pdf"):
        target = p.tmp / f"{kind}.{fmt}"
        await call(
            resource.download_statement(
                instrument.id, target, format=fmt, offset=10, limit=20, **filters
            )
        )


async def transfer_lists(p: Prism) -> None:
    """Unfiltered, then with every filter (the instrument one as its two form-exploded keys)."""
    await call(first_page(p.acme.transfers.list()))
    await call(
        first_page(
            p.acme.transfers.list(
                profile_id="160000000006",
                instrument=ACCOUNT,
                states=["COMPLETED", "PENDING"],
                created_from=FROM,
                created_to=TO,
                tag="rent",
                page_size=25,
            )
        )
    )


async def call(awaitable: Awaitable[object]) -> None:
    """Send, ignoring what the SDK makes of Prism's answer: only the request is judged."""
    with contextlib.suppress(WeavrError):
        async with asyncio.timeout(CALL_TIMEOUT):
            await awaitable


def test_every_contract_operation_is_driven() -> None:
    assert set(DRIVERS) == operation_ids()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("operation_id", sorted(DRIVERS))
async def test_sdk_requests_conform_according_to_prism(operation_id: str, prism: Prism) -> None:
    await call(DRIVERS[operation_id](prism))
    trace = prism.trace
    assert not trace.problems, "\n".join(trace.problems)
    sent = [e for e in trace.exchanges if e.operation_id == operation_id]
    assert sent, f"no {operation_id} request reached Prism (saw {trace.exchanges})"
    violations = [f"{e} -> {e.status}: {v}" for e in trace.exchanges for v in e.violations]
    assert not violations, "Prism found request violations:\n" + "\n".join(violations)
