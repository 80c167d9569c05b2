"""Per-identity tokens: lazily obtained, shared, refreshed once on 401, never shown."""

from __future__ import annotations

import asyncio

import pytest

from weavr_async import BackOffice, Conflict, Identity, InvalidRequest
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
    async with BackOffice(api_key=fake.api_key, base_url=fake.url, max_identities=2) as client:
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
