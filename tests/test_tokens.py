"""Per-identity tokens: lazily obtained, shared, refreshed once on 401, never shown."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import orjson
import pytest
from conftest import FAST_RETRY

from weavr_async import (
    BackOffice,
    Conflict,
    Identity,
    InvalidRequest,
    RateBudget,
    Retry,
    ServerError,
)
from weavr_async.testing import FakeBackOffice


async def test_concurrent_first_calls_share_one_token_request(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.latency = 0.02
    session = bo.identity(corp)
    await asyncio.gather(*(session.managed_accounts.get(account.id) for _ in range(25)))
    assert fake.count("requestAccessToken") == 1
    assert fake.count("managedAccountGet") == 25


async def test_each_identity_gets_its_own_token(fake: FakeBackOffice, bo: BackOffice) -> None:
    identities = [fake.add_identity("CORPORATE") for _ in range(3)]
    consumer = fake.add_identity("CONSUMER")
    accounts = {
        i.id: fake.add_managed_account(i.id, currency="EUR") for i in [*identities, consumer]
    }
    sessions = [bo.identity(Identity.corporate(i.id)) for i in identities]
    sessions.append(bo.identity(Identity.consumer(consumer.id)))
    for session in sessions:
        got = await session.managed_accounts.get(accounts[session.identity.id].id)
        assert got.id == accounts[session.identity.id].id
    assert fake.count("requestAccessToken") == 4


async def test_expired_token_is_replaced_once_and_the_call_succeeds(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    session = bo.identity(corp)
    await session.managed_accounts.get(account.id)
    fake.expire_tokens()
    fake.latency = 0.01
    await asyncio.gather(*(session.managed_accounts.get(account.id) for _ in range(10)))
    # One token at first, exactly one more after the expiry, however many calls saw the 401.
    assert fake.count("requestAccessToken") == 2
    assert bo.stats.token_refreshes == 1


async def test_refused_identity_raises_conflict(fake: FakeBackOffice, bo: BackOffice) -> None:
    ident = fake.add_identity("CORPORATE")
    fake.refuse_identity(ident)
    with pytest.raises(Conflict) as caught:
        await bo.identity(Identity.corporate(ident.id)).managed_accounts.get("1")
    assert caught.value.error_code == "UNRESOLVED_IDENTITY"
    # A failed token request is not cached: the next call asks again.
    with pytest.raises(Conflict):
        await bo.identity(Identity.corporate(ident.id)).managed_accounts.get("1")
    assert fake.count("requestAccessToken") == 2


async def test_token_endpoint_failures_are_retried(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script(status=503, count=2, operation_id="requestAccessToken")
    await bo.identity(corp).managed_accounts.get(account.id)
    assert fake.count("requestAccessToken") == 3


async def test_token_cache_is_bounded(fake: FakeBackOffice) -> None:
    idents = [fake.add_identity("CORPORATE") for _ in range(4)]
    for ident in idents:
        fake.add_managed_account(ident.id, currency="EUR")
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, max_identities=2, budget=RateBudget.unlimited()
    ) as client:
        for ident in idents:
            await client.access_tokens.create(Identity.corporate(ident.id))
            await client._tokens.token(Identity.corporate(ident.id))
        assert len(client._tokens) == 2


async def test_the_raw_access_token_call_hides_the_token(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    token = await bo.access_tokens.create(corp)
    assert token.token.reveal()
    assert token.token.reveal() not in repr(token)
    assert token.identity == corp


async def test_bad_identity_is_rejected_before_sending(
    fake: FakeBackOffice, bo: BackOffice
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bo.identity(Identity.corporate("12/../3"))
    assert caught.value.field == "identity.id"
    with pytest.raises(InvalidRequest):
        bo.identity(Identity("PARTNERSHIP", "1"))  # type: ignore[arg-type]
    assert fake.requests == []


# -- token lifecycle under load ------------------------------------------------------------


def token_requests_for(fake: FakeBackOffice, identity_id: str) -> int:
    """Token requests the simulator received for one identity (read from their bodies)."""
    return sum(
        1
        for r in fake.requests
        if r.operation_id == "requestAccessToken"
        and orjson.loads(r.body)["identity"]["id"] == identity_id
    )


async def test_a_token_expiring_mid_walk_costs_one_token_request_and_the_walk_stays_exact(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=3_000)
    expected = [e["transactionId"]["id"] for e in reversed(fake.ledger(account))]
    stream = bo.identity(corp).managed_accounts.statement(account.id, page_size=100, concurrency=4)
    got: list[str] = []
    async with aclosing(stream.raw()) as entries:
        async for entry in entries:
            got.append(entry["transactionId"]["id"])
            if len(got) == 150:  # mid-walk, with pages in flight and most still to fetch
                fake.expire_tokens()
    assert got == expected
    assert fake.count("requestAccessToken") == 2
    # The expiry really hit the walk: some pages were refused, then fetched with the new token.
    refused = [r for r in fake.requests if r.operation_id == "managedAccountStatement"]
    assert any(r.status == 401 for r in refused)
    assert bo.stats.token_refreshes >= 1


async def test_revoking_one_identity_leaves_the_others_tokens_alone(
    fake: FakeBackOffice, bo: BackOffice
) -> None:
    revoked, kept = fake.add_identity("CORPORATE"), fake.add_identity("CONSUMER")
    revoked_account = fake.add_managed_account(revoked, currency="EUR")
    kept_account = fake.add_managed_account(kept, currency="EUR")
    first = bo.identity(Identity.corporate(revoked.id))
    second = bo.identity(Identity.consumer(kept.id))
    await asyncio.gather(
        first.managed_accounts.get(revoked_account.id),
        second.managed_accounts.get(kept_account.id),
    )
    fake.expire_tokens(revoked)
    fake.latency = 0.01
    mark = len(fake.requests)
    results = await asyncio.gather(
        *(first.managed_accounts.get(revoked_account.id) for _ in range(8)),
        *(second.managed_accounts.get(kept_account.id) for _ in range(8)),
    )
    assert [r.id for r in results] == [revoked_account.id] * 8 + [kept_account.id] * 8
    assert token_requests_for(fake, revoked.id) == 2
    assert token_requests_for(fake, kept.id) == 1
    # Only the revoked identity's calls were refused.
    refused = {r.path for r in fake.requests[mark:] if r.status == 401}
    assert refused == {f"/managed_accounts/{revoked_account.id}"}


async def test_a_throttled_token_endpoint_is_waited_out_then_succeeds(
    fake: FakeBackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    fake.faults.script_rate_limit(count=2, reset=1, operation_id="requestAccessToken")
    retry = Retry(max_attempts=4, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=1.5)
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, retry=retry, budget=RateBudget.unlimited()
    ) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = await client.identity(corp).managed_accounts.get(account.id)
        elapsed = loop.time() - started
    assert got.id == account.id
    assert fake.count("requestAccessToken") == 3
    assert client.stats.rate_limited == 2
    # Each 429 said "reset in 1 s", and the client's budget waited both out.
    assert 1.98 <= elapsed < 3.5


async def test_a_failing_token_endpoint_during_a_refresh_is_retried(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    session = bo.identity(corp)
    await session.managed_accounts.get(account.id)
    fake.expire_tokens()
    fake.faults.script(status=503, count=2, operation_id="requestAccessToken")
    got = await asyncio.gather(*(session.managed_accounts.get(account.id) for _ in range(5)))
    assert {a.id for a in got} == {account.id}
    # One token, then one refresh that took three tries: not one refresh per caller.
    assert fake.count("requestAccessToken") == 1 + 3


async def test_a_refused_identity_fails_every_waiting_call_after_one_token_request(
    fake: FakeBackOffice, bo: BackOffice
) -> None:
    ident = fake.add_identity("CORPORATE")
    fake.refuse_identity(ident)
    session = bo.identity(Identity.corporate(ident.id))
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            *(session.managed_accounts.get("1") for _ in range(10)), return_exceptions=True
        ),
        5.0,
    )
    assert all(isinstance(o, Conflict) for o in outcomes)
    assert {o.error_code for o in outcomes if isinstance(o, Conflict)} == {"UNRESOLVED_IDENTITY"}
    # No retry storm: one token request for all ten, a 409 is not retried, nothing else sent.
    assert fake.count("requestAccessToken") == 1
    assert fake.count() == 1
    assert bo.stats.retries == 0


async def test_calls_outlast_a_token_outage_within_their_own_retry_budget(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    """Waiting callers share one token request; when it fails, each operation (never sent
    yet) goes again within its own budget, and the token request is tried once per round."""
    account = fake.add_managed_account(corp.id, currency="EUR")
    attempts = FAST_RETRY.max_attempts
    fake.faults.script(status=503, count=attempts - 1, operation_id="requestAccessToken")
    session = bo.identity(corp)
    got = await asyncio.gather(*(session.managed_accounts.get(account.id) for _ in range(5)))
    assert {a.id for a in got} == {account.id}
    # Each failed token request is one the callers shared; the next one succeeded, once.
    assert fake.count("requestAccessToken") == attempts
    assert fake.count("managedAccountGet") == 5


async def test_token_requests_count_against_the_calls_retry_budget(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    """A call whose token cannot be had spends its own attempts on token requests, not
    attempts times the token call's own retries."""
    account = fake.add_managed_account(corp.id, currency="EUR")
    attempts = FAST_RETRY.max_attempts
    fake.faults.script(status=503, count=100, operation_id="requestAccessToken")
    with pytest.raises(ServerError) as caught:
        await bo.identity(corp).managed_accounts.get(account.id)
    assert caught.value.operation == "requestAccessToken"
    assert fake.count("requestAccessToken") == attempts
    assert fake.count("managedAccountGet") == 0
