"""The transport over real HTTP: retries, idempotency, rate limits, error mapping, sessions."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from conftest import FAST_RETRY

from weavr_async import (
    BackOffice,
    BudgetExhausted,
    Conflict,
    CurrencyAmount,
    Identity,
    InstrumentRef,
    MalformedResponse,
    NotFound,
    RateBudget,
    RateLimited,
    Retry,
    ServerError,
    TransportError,
    Unauthorized,
)
from weavr_async.testing import FakeBackOffice


async def test_get_is_retried_on_5xx_and_succeeds(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script(status=503, count=2, operation_id="managedAccountGet")
    got = await bo.identity(corp).managed_accounts.get(account.id)
    assert got.id == account.id
    assert fake.count("managedAccountGet") == 3
    assert bo.stats.retries == 2


async def test_retries_run_out_into_a_typed_error_with_request_ref(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script(status=500, count=10, operation_id="managedAccountGet")
    with pytest.raises(ServerError) as caught:
        await bo.identity(corp).managed_accounts.get(account.id)
    assert caught.value.status == 500
    assert caught.value.request_ref
    assert fake.count("managedAccountGet") == FAST_RETRY.max_attempts


async def test_idempotency_ref_is_generated_once_and_reused_on_every_retry(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    source = fake.add_managed_account(corp.id, currency="EUR", history=20)
    target = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script_drop(count=1, operation_id="transferCreate", after_commit=True)
    fake.faults.script(status=502, count=1, operation_id="transferCreate")
    before = fake.instrument_balance(source)
    transfer = await bo.identity(corp).transfers.create(
        profile_id="1",
        source=InstrumentRef.managed_account(source.id),
        destination=InstrumentRef.managed_account(target.id),
        amount=CurrencyAmount("EUR", 100),
    )
    attempts = [r for r in fake.requests if r.operation_id == "transferCreate"]
    refs = {r.headers.get("idempotency-ref") for r in attempts}
    assert len(attempts) == 3
    assert len(refs) == 1
    assert None not in refs
    # The first attempt was applied and its answer lost: the API replays it, no second debit.
    assert fake.instrument_balance(source) == before - 100
    assert fake.instrument_balance(target) == 100
    assert transfer.destination_amount == CurrencyAmount("EUR", 100)


async def test_non_idempotent_write_is_not_repeated_after_it_was_sent(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    card = fake.add_managed_card(corp.id, currency="EUR")
    fake.faults.script(status=503, count=1, operation_id="managedCardBlock")
    with pytest.raises(ServerError):
        await bo.identity(corp).managed_cards.block(card.id)
    assert fake.count("managedCardBlock") == 1
    fake.faults.script_drop(count=1, operation_id="managedCardBlock", after_commit=True)
    with pytest.raises(TransportError):
        await bo.identity(corp).managed_cards.block(card.id)
    assert fake.count("managedCardBlock") == 2


async def test_429_waits_for_the_reset_then_succeeds(fake: FakeBackOffice, corp: Identity) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script_rate_limit(count=1, reset=1, operation_id="managedAccountGet")
    retry = Retry(max_attempts=3, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=2.0)
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, retry=retry, budget=RateBudget.unlimited()
    ) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.identity(corp).managed_accounts.get(account.id)
        elapsed = loop.time() - started
    assert client.stats.rate_limited == 1
    assert fake.count("managedAccountGet") == 2
    # The reset said 1 s: the retry was not sent before (it would only have met a 429).
    assert 0.99 <= elapsed < 1.8


async def test_a_reset_longer_than_the_caller_waits_is_budget_exhausted_at_once(
    fake: FakeBackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script_rate_limit(count=1, reset=30, operation_id="managedAccountGet")
    retry = Retry(max_attempts=3, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=2.0)
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, retry=retry, budget=RateBudget.unlimited()
    ) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BudgetExhausted) as caught:
            await client.identity(corp).managed_accounts.get(account.id)
        assert loop.time() - started < 0.5  # no silent wait, no request sent into the gate
        assert 29 <= caught.value.retry_after <= 30
        assert fake.count("managedAccountGet") == 1


async def test_429_on_every_attempt_surfaces_as_rate_limited(
    fake: FakeBackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script_rate_limit(count=10, reset=0, operation_id="managedAccountGet")
    retry = Retry(max_attempts=2, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=0.01)
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, retry=retry, budget=RateBudget.unlimited()
    ) as client:
        with pytest.raises(RateLimited) as caught:
            await client.identity(corp).managed_accounts.get(account.id)
    assert caught.value.status == 429
    assert caught.value.retry_after == 0


async def test_malformed_bodies_are_typed_errors(fake: FakeBackOffice, corp: Identity) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    async with BackOffice(
        api_key=fake.api_key,
        base_url=fake.url,
        retry=Retry.disabled(),
        budget=RateBudget.unlimited(),
    ) as client:
        session = client.identity(corp)
        await session.managed_accounts.get(account.id)  # token first
        for kind in ("truncated", "garbage", "html"):
            fake.faults.script_malformed(count=1, kind=kind)
            with pytest.raises(MalformedResponse):
                await session.managed_accounts.get(account.id)


async def test_malformed_body_on_a_read_is_retried(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    session = bo.identity(corp)
    await session.managed_accounts.get(account.id)
    fake.faults.script_malformed(count=1, kind="truncated")
    assert (await session.managed_accounts.get(account.id)).id == account.id


async def test_api_errors_carry_status_code_message_and_request_ref(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    card = fake.add_managed_card(corp.id, currency="EUR")
    session = bo.identity(corp)
    await session.managed_cards.block(card.id)
    with pytest.raises(Conflict) as caught:
        await session.managed_cards.block(card.id)
    error = caught.value
    assert error.status == 409
    assert error.error_code == "INSTRUMENT_ALREADY_BLOCKED"
    assert error.request_ref
    assert error.request_ref in str(error)
    assert error.operation == "managedCardBlock"
    with pytest.raises(NotFound) as missing:
        await session.managed_accounts.get("999999999")
    assert missing.value.status == 404


async def test_wrong_api_key_is_unauthorized(fake: FakeBackOffice, corp: Identity) -> None:
    async with BackOffice(
        api_key="wrong-key", base_url=fake.url, retry=FAST_RETRY, budget=RateBudget.unlimited()
    ) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.identity(corp).managed_accounts.get("1")
    assert caught.value.status == 401
    assert "wrong-key" not in str(caught.value)
    assert "wrong-key" not in repr(caught.value)


async def test_unreachable_server_is_a_transport_error() -> None:
    # A port nothing listens on: bind one, note it, close it.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with BackOffice(
        api_key="k",
        base_url=f"http://127.0.0.1:{port}/multi/backoffice",
        retry=FAST_RETRY,
        budget=RateBudget.unlimited(),
    ) as client:
        with pytest.raises(TransportError):
            await client.access_tokens.create(Identity.corporate("1"))
    assert client.stats.retries == FAST_RETRY.max_attempts - 1


async def test_timeouts_become_transport_errors(fake: FakeBackOffice, corp: Identity) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    async with BackOffice(
        api_key=fake.api_key,
        base_url=fake.url,
        retry=Retry.disabled(),
        timeout=0.2,
        budget=RateBudget.unlimited(),
    ) as client:
        session = client.identity(corp)
        await session.managed_accounts.get(account.id)
        fake.latency = 0.5
        with pytest.raises(TransportError, match="timed out"):
            await session.managed_accounts.get(account.id)


async def test_external_session_is_shared_and_never_closed(
    fake: FakeBackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    async with aiohttp.ClientSession() as session:
        async with BackOffice(
            api_key=fake.api_key, base_url=fake.url, session=session, budget=RateBudget.unlimited()
        ) as bo:
            await bo.identity(corp).managed_accounts.get(account.id)
        assert not session.closed
        async with BackOffice(
            api_key=fake.api_key, base_url=fake.url, session=session, budget=RateBudget.unlimited()
        ) as bo2:
            await bo2.identity(corp).managed_accounts.get(account.id)
        assert not session.closed


async def test_max_concurrency_caps_requests_in_flight(
    fake: FakeBackOffice, corp: Identity
) -> None:
    accounts = [fake.add_managed_account(corp.id, currency="EUR") for _ in range(3)]
    async with BackOffice(
        api_key=fake.api_key,
        base_url=fake.url,
        max_concurrency=3,
        retry=FAST_RETRY,
        budget=RateBudget.unlimited(),
    ) as bo:
        await bo.identity(corp).managed_accounts.get(accounts[0].id)
        fake.latency = 0.05
        fake.reset_requests()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(
            *(bo.identity(corp).managed_accounts.get(accounts[i % 3].id) for i in range(12))
        )
        elapsed = loop.time() - started
    # 12 requests of 50 ms, 3 at a time: at least four rounds.
    assert elapsed >= 0.19
    assert fake.count("managedAccountGet") == 12


async def test_debug_logs_never_show_the_api_key_or_tokens(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, caplog: pytest.LogCaptureFixture
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    caplog.set_level(logging.DEBUG)
    fake.faults.script(status=503, count=1, operation_id="managedAccountGet")
    session = bo.identity(corp)
    await session.managed_accounts.get(account.id)
    token = await bo._tokens.token(corp)  # the live token, to look for it
    text = caplog.text + repr(bo) + repr(session) + repr(bo._transport) + repr(bo._tokens)
    assert "managedAccountGet" in caplog.text
    assert fake.api_key not in text
    assert token.reveal() not in text
