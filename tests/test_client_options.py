"""What first-class SDK users reach for on the client: per-call options, response metadata,
configuration from the environment, proxies."""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import AsyncIterator

import aiohttp
import attrs
import pytest
from aiohttp import web
from conftest import FAST_RETRY

from weavr_async import (
    BackOffice,
    CurrencyAmount,
    Identity,
    InstrumentRef,
    InvalidRequest,
    ManagedAccount,
    ResponseInfo,
    Retry,
    ServerError,
    TransportError,
    response_info,
)
from weavr_async.testing import FakeBackOffice

# -- with_options ---------------------------------------------------------------------------


async def test_a_view_shares_tokens_pool_and_stats_and_closes_nothing(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    await bo.identity(corp).managed_accounts.get(account.id)
    fast = bo.with_options(timeout=5.0)
    async with fast:
        await fast.identity(corp).managed_accounts.get(account.id)
    assert fake.count("requestAccessToken") == 1  # the view used the client's token
    assert bo.stats.requests == 3  # one token request and two calls, counted together
    # Closing the view closed neither the session nor the tokens of the client.
    await bo.identity(corp).managed_accounts.get(account.id)
    assert fake.count("requestAccessToken") == 1


async def test_a_view_has_its_own_timeout_and_retry(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    session = bo.identity(corp)
    await session.managed_accounts.get(account.id)  # token in hand
    fake.latency = 0.3
    impatient = bo.with_options(timeout=0.05, retry=Retry.disabled())
    with pytest.raises(TransportError, match="timed out"):
        await impatient.identity(corp).managed_accounts.get(account.id)
    assert (await session.managed_accounts.get(account.id)).id == account.id
    fake.latency = 0.0
    fake.faults.script(status=503, count=1, operation_id="managedAccountGet")
    with pytest.raises(ServerError):
        await (
            bo.with_options(retry=Retry.disabled()).identity(corp).managed_accounts.get(account.id)
        )
    fake.faults.script(status=503, count=1, operation_id="managedAccountGet")
    assert (await session.managed_accounts.get(account.id)).id == account.id


async def test_a_view_sends_its_extra_headers_and_only_those(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    traced = bo.with_options(headers={"x-correlation-id": "job-42 run 7"})
    await traced.identity(corp).managed_accounts.get(account.id)
    await bo.identity(corp).managed_accounts.get(account.id)
    gets = [r for r in fake.requests if r.operation_id == "managedAccountGet"]
    assert [r.headers.get("x-correlation-id") for r in gets] == ["job-42 run 7", None]


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"api-key": "x"}, "headers.api-key"),
        ({"Authorization": "Bearer x"}, "headers.Authorization"),
        ({"idempotency-ref": "x"}, "headers.idempotency-ref"),
        ({"x-ok": "a\r\nb"}, "headers.x-ok"),
        ({"bad name": "x"}, "headers"),
        ({"x-ok": 5}, "headers.x-ok"),
    ],
)
async def test_extra_headers_are_checked(
    bo: BackOffice, headers: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bo.with_options(headers=headers)  # type: ignore[arg-type]
    assert caught.value.field == field


async def test_view_options_are_checked(bo: BackOffice) -> None:
    with pytest.raises(InvalidRequest):
        bo.with_options(timeout=0)
    with pytest.raises(InvalidRequest):
        bo.with_options(retry=3)  # type: ignore[arg-type]


# -- response metadata ---------------------------------------------------------------------


async def test_a_created_transfer_carries_its_request_ref(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    source = fake.add_managed_account(corp.id, currency="EUR", history=10)
    target = fake.add_managed_account(corp.id, currency="EUR")
    transfer = await bo.identity(corp).transfers.create(
        profile_id="1",
        source=InstrumentRef.managed_account(source.id),
        destination=InstrumentRef.managed_account(target.id),
        amount=CurrencyAmount("EUR", 10),
    )
    info = response_info(transfer)
    assert info is not None
    assert info.operation == "transferCreate"
    assert info.status == 200
    assert info.request_ref
    assert info.request_ref.startswith("fake-")
    assert info.headers.get("request-ref") == info.request_ref
    other = await bo.identity(corp).transfers.get(transfer.id)
    other_info = response_info(other)
    assert other_info is not None
    assert other_info.request_ref != info.request_ref


async def test_writes_without_a_body_return_their_response_info(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    card = fake.add_managed_card(corp.id, currency="EUR")
    info = await bo.identity(corp).managed_cards.block(card.id)
    assert isinstance(info, ResponseInfo)
    assert (info.operation, info.status) == ("managedCardBlock", 204)
    assert info.request_ref


def test_objects_no_call_returned_have_no_response_info() -> None:
    assert response_info(CurrencyAmount("EUR", 1)) is None
    assert response_info(object()) is None


# -- from the environment ------------------------------------------------------------------


async def test_from_env_reads_key_and_base_url(fake: FakeBackOffice, corp: Identity) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    environ = {"WEAVR_API_KEY": fake.api_key + "\n", "WEAVR_BASE_URL": fake.url}
    async with BackOffice.from_env(environ, retry=FAST_RETRY) as bo:
        assert (await bo.identity(corp).managed_accounts.get(account.id)).id == account.id


def test_from_env_without_a_key_says_what_to_set() -> None:
    with pytest.raises(InvalidRequest) as caught:
        BackOffice.from_env({})
    assert caught.value.field == "WEAVR_API_KEY"


async def test_weavr_log_sends_records_to_stderr_without_secrets(
    fake: FakeBackOffice, corp: Identity, capfd: pytest.CaptureFixture[str]
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    logger = logging.getLogger("weavr_async")
    saved = (logger.level, list(logger.handlers))
    try:
        environ = {"WEAVR_API_KEY": fake.api_key, "WEAVR_BASE_URL": fake.url, "WEAVR_LOG": "debug"}
        async with BackOffice.from_env(environ) as bo:
            await bo.identity(corp).managed_accounts.get(account.id)
        err = capfd.readouterr().err
        assert "managedAccountGet" in err
        assert "requestAccessToken" in err
        assert fake.api_key not in err
        assert "Bearer" not in err
        with pytest.raises(InvalidRequest):
            BackOffice.from_env({**environ, "WEAVR_LOG": "loud"})
    finally:
        logger.setLevel(saved[0])
        logger.handlers[:] = saved[1]


# -- proxies -------------------------------------------------------------------------------


class ForwardProxy:
    """A plain-http forward proxy on 127.0.0.1 that counts what it relays."""

    def __init__(self) -> None:
        self.relayed: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(trust_env=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        target = request.raw_path  # absolute-form: http://host:port/path?query
        assert target.startswith("http://127.0.0.1:"), target
        self.relayed.append(request.path)
        hop = {"host", "connection", "proxy-connection", "keep-alive", "transfer-encoding"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        assert self._session is not None
        async with self._session.request(
            request.method, target, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            kept = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in hop | {"content-length", "content-encoding"}
            }
            return web.Response(status=upstream.status, body=body, headers=kept)


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    server = ForwardProxy()
    await server.start()
    yield server
    await server.close()


async def test_an_explicit_proxy_carries_every_request(
    fake: FakeBackOffice, corp: Identity, proxy: ForwardProxy
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    async with BackOffice(fake.api_key, base_url=fake.url, proxy=proxy.url) as bo:
        assert (await bo.identity(corp).managed_accounts.get(account.id)).id == account.id
    assert len(proxy.relayed) == 2  # the token request and the call


async def test_http_proxy_from_the_environment_is_honoured_unless_trust_env_is_off(
    fake: FakeBackOffice, corp: Identity, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with BackOffice(fake.api_key, base_url=fake.url) as bo:
        await bo.identity(corp).managed_accounts.get(account.id)
    assert len(proxy.relayed) == 2
    async with BackOffice(fake.api_key, base_url=fake.url, trust_env=False) as bo:
        await bo.identity(corp).managed_accounts.get(account.id)
    assert len(proxy.relayed) == 2  # nothing more went through the proxy


@pytest.mark.parametrize("value", ["ftp://127.0.0.1:1", "not a url", "http://", 5])
def test_bad_proxy_urls_are_refused(value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        BackOffice("key", base_url="https://api.example.com", proxy=value)  # type: ignore[arg-type]
    assert caught.value.field == "proxy"


async def test_response_info_stays_with_the_model_a_call_returned(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR")
    got = await bo.identity(corp).managed_accounts.get(account.id)
    info = response_info(got)
    assert info is not None
    assert info.operation == "managedAccountGet"
    assert response_info(got) is info  # built once, on the first read
    # Copies were not returned by a call: equal, but without the call's response.
    for copied in (attrs.evolve(got), copy.copy(got), pickle.loads(pickle.dumps(got))):
        assert copied == got
        assert response_info(copied) is None
    assert response_info(ManagedAccount(**attrs.asdict(got, recurse=False))) is None


async def test_a_frozen_model_a_call_returned_keeps_its_response_info(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    token = await bo.access_tokens.create(corp)
    info = response_info(token)
    assert info is not None
    assert info.operation == "requestAccessToken"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        token.token = token.token  # type: ignore[misc]
