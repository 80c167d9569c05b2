"""Credentials never show: not in any log at DEBUG, nor in any repr, str or traceback (locals
included) of what a busy client hands out; and TLS certificates are verified by default."""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
import traceback
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import aclosing, contextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from conftest import FAST_RETRY

from weavr_async import (
    BackOffice,
    Conflict,
    CurrencyAmount,
    Identity,
    InstrumentRef,
    MalformedResponse,
    NotFound,
    RateBudget,
    TransportError,
    Unauthorized,
    WeavrError,
)
from weavr_async.testing import BASE_PATH, FakeBackOffice

WRONG_KEY = "sk_live_do-not-print-me-0123456789"
ODD_TOKEN = "tok-in-an-answer-off-the-contract-5f4e3d2c1b0a"


class _Everything(logging.Handler):
    """Keeps every record, rendered in full: message, arguments, exception, stack."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.names: set[str] = set()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))
        self.texts.append(repr(record.__dict__))


@contextmanager
def every_logger_at_debug() -> Iterator[_Everything]:
    """Root, weavr_async, every aiohttp logger, backoff and asyncio (and any other logger that
    exists) at DEBUG, all captured by one handler on the root."""
    handler = _Everything()
    names = ["", "weavr_async", "backoff", "asyncio"]
    names += [f"aiohttp.{n}" for n in ("access", "client", "internal", "server", "web")]
    names += list(logging.root.manager.loggerDict)
    loggers = {name: logging.getLogger(name) for name in names}
    saved = {name: (lg.level, lg.disabled) for name, lg in loggers.items()}
    for lg in loggers.values():
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    logging.root.addHandler(handler)
    try:
        yield handler
    finally:
        logging.root.removeHandler(handler)
        for name, (level, disabled) in saved.items():
            loggers[name].setLevel(level)
            loggers[name].disabled = disabled


def rendered(exc: BaseException) -> list[str]:
    """Everything an exception can show: its traceback with every frame's locals, and str and
    repr of it and of every exception it chains (causes and contexts)."""
    tb = traceback.TracebackException.from_exception(exc, capture_locals=True)
    texts = ["".join(tb.format())]
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) not in seen:
            seen.add(id(current))
            texts += [str(current), repr(current)]
            pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return texts


async def bad_status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that is not quite HTTP: aiohttp fails to parse its answer."""
    await reader.read(65_536)
    writer.write(b"HTTP/1.1 2x0 WHAT\r\ncontent-length: 2\r\n\r\n{}")
    await writer.drain()
    writer.close()


async def test_no_key_or_token_shows_anywhere_in_a_busy_session(fake: FakeBackOffice) -> None:
    acme, globex = fake.add_identity("CORPORATE"), fake.add_identity("CONSUMER")
    source = fake.add_managed_account(acme, currency="EUR", history=400)
    target = fake.add_managed_account(acme, currency="EUR")
    card = fake.add_managed_card(acme, currency="EUR")
    other = fake.add_managed_account(globex, currency="EUR", history=50)
    raised: list[BaseException] = []
    shown: list[str] = []

    async def expect(error: type[WeavrError], call: Awaitable[object]) -> None:
        with pytest.raises(error) as caught:
            await asyncio.wait_for(call, 5.0)
        raised.append(caught.value)

    with every_logger_at_debug() as captured:
        async with BackOffice(
            api_key=fake.api_key,
            base_url=fake.url,
            retry=FAST_RETRY,
            timeout=2.0,
            budget=RateBudget.unlimited(),
        ) as bo:
            first = bo.identity(Identity.corporate(acme.id))
            second = bo.identity(Identity.consumer(globex.id))
            token = await bo.access_tokens.create(Identity.corporate(acme.id))
            # Token requests (one per identity), then a 401 and a refresh.
            await asyncio.gather(
                first.managed_accounts.get(source.id), second.managed_accounts.get(other.id)
            )
            fake.expire_tokens()
            await first.managed_accounts.get(source.id)
            # Retries: 5xx and 429 (with reset), then success.
            fake.faults.script(status=503, count=2, operation_id="managedAccountGet")
            fake.faults.script_rate_limit(count=1, reset=0, operation_id="managedAccountGet")
            await first.managed_accounts.get(source.id)
            # 4xx API errors.
            await expect(NotFound, first.managed_accounts.get("999999999"))
            await first.managed_cards.block(card.id)
            await expect(Conflict, first.managed_cards.block(card.id))
            # A dropped connection on a write that is not repeated: TransportError.
            fake.faults.script_drop(count=1, operation_id="managedCardUnblock")
            await expect(TransportError, first.managed_cards.unblock(card.id))
            # A body that is not JSON: MalformedResponse.
            fake.faults.script_malformed(count=1, kind="html", operation_id="managedCardUnblock")
            await expect(MalformedResponse, first.managed_cards.unblock(card.id))
            # A token in an answer that does not fit the contract: MalformedResponse.
            odd = {"token": {"token": ODD_TOKEN}, "identity": {"type": "CORPORATE"}}
            fake.faults.script(status=200, count=1, operation_id="requestAccessToken", body=odd)
            await expect(MalformedResponse, bo.access_tokens.create(Identity.corporate(acme.id)))
            # A walk, stopped half-way (a checkpoint with a cursor), then resumed to the end.
            stream = first.managed_accounts.statement(source.id, page_size=50, concurrency=3)
            walked = 0
            async with aclosing(stream.raw()) as entries:
                async for _ in entries:
                    walked += 1
                    if walked == 120:
                        break
            checkpoint = stream.checkpoint
            resumed = first.managed_accounts.statement(
                source.id, page_size=50, concurrency=3, checkpoint=checkpoint
            )
            rest = await resumed.collect()
            assert walked + len(rest) == 400
            # A transfer (with its idempotency ref).
            transfer = await first.transfers.create(
                profile_id="1",
                source=InstrumentRef.managed_account(source.id),
                destination=InstrumentRef.managed_account(target.id),
                amount=CurrencyAmount("EUR", 125),
                idempotency_ref="secrets-test-1",
            )
            shown += [repr(x) for x in (bo, bo.stats, bo._transport, bo._tokens, token)]
            shown += [repr(x) for x in (token.token, transfer, stream, resumed, checkpoint)]
            shown += [str(bo), str(token), str(checkpoint), checkpoint.to_json()]
            for session in (first, second):
                shown += [repr(session), str(session), repr(session._context)]
                for name, value in vars(session).items():
                    shown += [f"{name}={value!r}", str(value)]
        # A server that answers something that is not HTTP: TransportError (aiohttp's error,
        # its cause, keeps the request's headers).
        garbage = await asyncio.start_server(bad_status_line, "127.0.0.1", 0)
        port = garbage.sockets[0].getsockname()[1]
        async with (
            garbage,
            BackOffice(
                api_key=fake.api_key,
                base_url=f"http://127.0.0.1:{port}/x",
                retry=FAST_RETRY,
                budget=RateBudget.unlimited(),
            ) as odd_server,
        ):
            await expect(
                TransportError,
                odd_server.identity(Identity.corporate(acme.id)).managed_accounts.get(source.id),
            )
            shown += [repr(odd_server), repr(odd_server._transport)]
        async with BackOffice(
            api_key=WRONG_KEY, base_url=fake.url, retry=FAST_RETRY, budget=RateBudget.unlimited()
        ) as wrong:
            refused = wrong.identity(Identity.corporate(acme.id))
            await expect(Unauthorized, refused.managed_accounts.get(source.id))
            shown += [repr(wrong), repr(wrong._transport)]

    for exc in raised:
        shown += rendered(exc)
    # Everything the scenario was meant to go through, it went through.
    assert {type(e) for e in raised} == {
        NotFound,
        Conflict,
        TransportError,
        MalformedResponse,
        Unauthorized,
    }
    # Both transport errors chain aiohttp's own, rendered above with the whole chain.
    dropped, not_http = (e for e in raised if type(e) is TransportError)
    assert isinstance(dropped.__cause__, aiohttp.ServerDisconnectedError)
    assert isinstance(not_http.__cause__, aiohttp.ClientResponseError)
    assert bo.stats.retries >= 3
    assert bo.stats.rate_limited == 1
    assert bo.stats.token_refreshes >= 1
    assert {"weavr_async"} <= captured.names
    assert any("retrying managedAccountGet" in t for t in captured.texts)

    # The secrets: the API keys, and every token the simulator saw on the wire.
    tokens = {
        r.headers["authorization"].partition(" ")[2]
        for r in fake.requests
        if "authorization" in r.headers
    }
    assert len(tokens) >= 3  # two identities, and the refreshed one
    secrets = {fake.api_key, WRONG_KEY, ODD_TOKEN, token.token.reveal(), *tokens}
    haystack = "\n".join([*captured.texts, *shown])
    assert len(haystack) > 10_000  # tracebacks with locals were really rendered
    leaks = {secret[:10] + "...": haystack.count(secret) for secret in secrets}
    assert {k: n for k, n in leaks.items() if n} == {}


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no public authority signed (openssl CLI)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a self-signed certificate with the openssl CLI: {exc}")
    return cert, key


@pytest.fixture
async def https_fake(self_signed: tuple[Path, Path]) -> AsyncIterator[tuple[FakeBackOffice, str]]:
    """The simulator's application served over HTTPS with the self-signed certificate."""
    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    fake = FakeBackOffice(seed=5)
    runner = web.AppRunner(fake.make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        yield fake, f"https://127.0.0.1:{port}{BASE_PATH}"
    finally:
        await runner.cleanup()


async def test_tls_certificates_are_verified_by_default(
    https_fake: tuple[FakeBackOffice, str],
) -> None:
    fake, url = https_fake
    ident = Identity.corporate(fake.add_identity("CORPORATE").id)
    async with BackOffice(
        api_key=fake.api_key, base_url=url, retry=FAST_RETRY, budget=RateBudget.unlimited()
    ) as bo:
        with pytest.raises(TransportError) as caught:
            await asyncio.wait_for(bo.access_tokens.create(ident), 10.0)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorCertificateError)
    assert fake.requests == []  # the handshake failed: nothing was sent


async def test_tls_with_the_servers_authority_given_succeeds(
    https_fake: tuple[FakeBackOffice, str], self_signed: tuple[Path, Path]
) -> None:
    fake, url = https_fake
    seeded = fake.add_identity("CORPORATE")
    account = fake.add_managed_account(seeded, currency="EUR", history=30)
    trusted = ssl.create_default_context(cafile=str(self_signed[0]))
    async with BackOffice(
        api_key=fake.api_key,
        base_url=url,
        retry=FAST_RETRY,
        ssl=trusted,
        budget=RateBudget.unlimited(),
    ) as bo:
        session = bo.identity(Identity.corporate(seeded.id))
        got = await asyncio.wait_for(session.managed_accounts.get(account.id), 10.0)
        entries = await asyncio.wait_for(
            session.managed_accounts.statement(account.id).collect(), 10.0
        )
    assert got.id == account.id
    assert len(entries) == 30
    assert fake.count("requestAccessToken") == 1
