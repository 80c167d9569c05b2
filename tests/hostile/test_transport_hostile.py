"""The transport against a hostile server: redirects, wrong statuses, endless or huge bodies,
stalls, poisoned headers. Nothing may leak a credential, report success it did not get, hang,
or escape untyped."""

from __future__ import annotations

import asyncio
import gzip
import time
import traceback
from pathlib import Path

import attrs
import psutil
import pytest
from aiohttp import web

from weavr_async import (
    BackOffice,
    InvalidRequest,
    MalformedResponse,
    Retry,
    ServerError,
    TransportError,
    Unauthorized,
    WeavrError,
)
from weavr_async._budget_windows import MAX_IMPOSED_SECONDS, MIN_LEARNED_RATE

from .conftest import API_KEY, CORPORATE, QUICK_RETRY, HostileServer

ACCOUNT = "/managed_accounts/2001"
STATEMENT = "/managed_accounts/2001/statement"
BLOCK = "/managed_cards/3001/block"
ACCOUNT_BODY = {
    "id": "2001",
    "profileId": "1",
    "friendlyName": "acct",
    "currency": "EUR",
    "balances": {"availableBalance": 10, "actualBalance": 10},
    "state": {"state": "ACTIVE"},
    "creationTimestamp": 1,
}


def redirect_to(target: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={"Location": target})


def rendered(exc: BaseException) -> str:
    """Everything a traceback with its local variables would show, from the SDK's frames on
    (the test's own frame holds the values it made up)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    shown = traceback.TracebackException(type(exc), exc, tb, capture_locals=True)
    return "".join(shown.format())


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


# -- redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_download_is_never_redirected_and_nothing_is_saved(
    hostile: HostileServer,
    bystander: HostileServer,
    client: BackOffice,
    tmp_path: Path,
    status: int,
) -> None:
    async def bounce(_: web.Request) -> web.StreamResponse:
        return redirect_to(f"{bystander.url}{STATEMENT}", status)

    hostile.route("GET", STATEMENT, bounce)
    target = tmp_path / "statement.csv"
    with pytest.raises(MalformedResponse, match="redirects are never followed"):
        await client.identity(CORPORATE).managed_accounts.download_statement("2001", target)
    assert bystander.received == []
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    assert hostile.count(STATEMENT) == 1  # a redirect is not a failure that passes


async def test_a_json_call_is_never_redirected_nor_retried(
    hostile: HostileServer, bystander: HostileServer, client: BackOffice
) -> None:
    async def bounce(_: web.Request) -> web.StreamResponse:
        return redirect_to(f"{bystander.url}{ACCOUNT}")

    hostile.route("GET", ACCOUNT, bounce)
    with pytest.raises(MalformedResponse, match="302"):
        await client.identity(CORPORATE).managed_accounts.get("2001")
    assert hostile.count(ACCOUNT) == 1
    assert bystander.received == []


async def test_a_redirected_token_request_costs_one_request(
    hostile: HostileServer, bystander: HostileServer, client: BackOffice
) -> None:
    async def bounce(_: web.Request) -> web.StreamResponse:
        return redirect_to(f"{bystander.url}/access_token", 307)

    hostile.token_handler = bounce
    with pytest.raises(MalformedResponse) as caught:
        await client.identity(CORPORATE).managed_accounts.get("2001")
    assert caught.value.operation == "requestAccessToken"
    assert hostile.count("/access_token") == 1
    assert hostile.count(ACCOUNT) == 0
    assert bystander.received == []


# -- statuses other than the promised one --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b'{"errorCode": "INSTRUMENT_ALREADY_BLOCKED", "message": "no"}'),
        (302, b""),
        (304, b""),
        (201, b"{}"),
        (202, b""),
    ],
)
async def test_a_write_is_not_reported_as_done_on_any_status_but_its_own(
    hostile: HostileServer, client: BackOffice, status: int, body: bytes
) -> None:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, content_type="application/json")

    hostile.route("POST", BLOCK, answer)
    with pytest.raises(MalformedResponse, match=f"answered {status} where the contract promises"):
        await client.identity(CORPORATE).managed_cards.block("3001")
    assert hostile.count(BLOCK) == 1


async def test_a_read_answered_204_is_not_an_empty_success(
    hostile: HostileServer, client: BackOffice
) -> None:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    hostile.route("GET", ACCOUNT, answer)
    with pytest.raises(MalformedResponse, match="204"):
        await client.identity(CORPORATE).managed_accounts.get("2001")


# -- credentials the caller gives -----------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:s3cr3t-pass@api.example.com/multi/backoffice",
        "http://user:s3cr3t-pass@127.0.0.1:9/x",
        "https://:s3cr3t-pass@api.example.com",
    ],
)
def test_a_base_url_with_credentials_is_refused_without_repeating_them(base_url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        BackOffice(API_KEY, base_url=base_url)
    assert caught.value.field == "base_url"
    # (The caller's own frames hold what the caller passed; the error itself must not.)
    assert "s3cr3t-pass" not in f"{caught.value} {caught.value!r} {caught.value.args}"


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.example.com/multi/backoffice",
        "http://10.0.0.1/x",
        "ftp://127.0.0.1/x",
        "https://",
        "https://api.example.com/x?key=1",
        "https://api.example.com/x#frag",
        "https://api.exa mple.com/",
        "https://api.example.com/\r\nx",
        "",
    ],
)
def test_bad_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        BackOffice(API_KEY, base_url=base_url)
    assert caught.value.field == "base_url"


async def test_plain_http_is_allowed_to_loopback_or_when_the_caller_opts_out() -> None:
    for url in ("http://127.0.0.1:1/x", "http://localhost:1/x", "http://[::1]:1/x"):
        async with BackOffice(API_KEY, base_url=url):
            pass
    async with BackOffice(API_KEY, base_url="http://10.0.0.1/x", allow_insecure_http=True):
        pass


@pytest.mark.parametrize(
    "api_key", [API_KEY + "\n", API_KEY + "\r\n", "abc\x00def", "abc def", "clé", "x" * 2000]
)
async def test_an_api_key_unfit_for_a_header_is_refused_before_anything_is_sent(
    hostile: HostileServer, api_key: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        BackOffice(api_key, base_url=hostile.url)
    assert caught.value.field == "api_key"
    assert api_key.strip() not in f"{caught.value} {caught.value!r} {caught.value.args}"
    assert hostile.received == []


@pytest.mark.parametrize("ref", ["ref\r\nx-evil: 1", "ref\x00", "réf", "x" * 300, ""])
async def test_an_idempotency_ref_unfit_for_a_header_is_refused(
    hostile: HostileServer, client: BackOffice, ref: str
) -> None:
    from weavr_async import CurrencyAmount, InstrumentRef

    with pytest.raises(InvalidRequest) as caught:
        await client.identity(CORPORATE).transfers.create(
            profile_id="1",
            source=InstrumentRef.managed_account("2001"),
            destination=InstrumentRef.managed_account("2002"),
            amount=CurrencyAmount("EUR", 100),
            idempotency_ref=ref,
        )
    assert caught.value.field == "idempotency_ref"
    assert hostile.received == []


@pytest.mark.parametrize("token", ["tok\r\nx-evil: 1", "tok\x00en", "tok\nen", "t" * 9000])
async def test_a_token_unfit_for_a_header_is_a_typed_error_that_shows_no_token(
    hostile: HostileServer, client: BackOffice, token: str
) -> None:
    async def issue(_: web.Request) -> web.StreamResponse:
        return web.json_response({"token": token})

    hostile.token_handler = issue
    with pytest.raises(MalformedResponse) as caught:
        await client.identity(CORPORATE).managed_accounts.get("2001")
    shown = rendered(caught.value)
    assert token[:20] not in shown
    assert API_KEY not in shown
    assert hostile.count(ACCOUNT) == 0


# -- rate-limit headers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit", ["1, 1;w=1000000", "1, 1;w=inf", "1, 1;w=nan", "20, 20;w=3600", "1, 1;w=1e308"]
)
async def test_a_429_cannot_teach_a_pace_slower_than_the_documented_limits(
    hostile: HostileServer, client: BackOffice, limit: str
) -> None:
    answers = iter([429])

    async def answer(_: web.Request) -> web.StreamResponse:
        if next(answers, 200) == 429:
            return web.json_response(
                {}, status=429, headers={"x-ratelimit-limit": limit, "x-ratelimit-reset": "0"}
            )
        return web.json_response(ACCOUNT_BODY)

    hostile.route("GET", ACCOUNT, answer)
    started = time.monotonic()
    for _ in range(20):
        account = await client.identity(CORPORATE).managed_accounts.get("2001")
        assert account.id == "2001"
    assert client.stats.rate_limited == 1
    assert time.monotonic() - started < 2
    for count, seconds in client.budget.limits:  # learned, and clamped
        assert seconds <= MAX_IMPOSED_SECONDS
        assert count / seconds >= MIN_LEARNED_RATE - 1e-9


async def test_a_huge_reset_is_waited_no_longer_than_the_retry_allows(
    hostile: HostileServer,
) -> None:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.json_response(
            {}, status=429, headers={"x-ratelimit-reset": "1e12", "x-ratelimit-limit": "5"}
        )

    hostile.route("GET", ACCOUNT, answer)
    async with BackOffice(API_KEY, base_url=hostile.url, retry=QUICK_RETRY, timeout=5) as bo:
        started = time.monotonic()
        with pytest.raises(WeavrError):
            await bo.identity(CORPORATE).managed_accounts.get("2001")
        assert time.monotonic() - started < 2.0


# -- bodies -------------------------------------------------------------------------------


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "application/json"})
    await response.prepare(request)
    chunk = b" " * (1024 * 1024)
    try:
        for _ in range(2000):  # 2 GB unless the client hangs up
            await response.write(chunk)
    except (ConnectionResetError, ConnectionError):
        pass
    return response


async def test_an_endless_json_body_is_cut_at_the_cap_with_memory_bounded(
    hostile: HostileServer,
) -> None:
    hostile.route("GET", ACCOUNT, _endless)
    async with BackOffice(
        API_KEY, base_url=hostile.url, retry=QUICK_RETRY, max_body_size=4 * 1024 * 1024
    ) as bo:
        before = rss()
        with pytest.raises(MalformedResponse, match="max_body_size"):
            await bo.identity(CORPORATE).managed_accounts.get("2001")
        assert rss() - before < 60 * 1024 * 1024
    assert hostile.count(ACCOUNT) == 1  # too large is not a failure that passes


async def test_a_declared_huge_body_is_refused_before_it_is_read(
    hostile: HostileServer, client: BackOffice
) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"content-type": "application/json", "content-length": str(500 * 1024**2)}
        )
        await response.prepare(request)
        try:
            await response.write(b"{" * 1024)
            await asyncio.sleep(5)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    hostile.route("GET", ACCOUNT, answer)
    started = time.monotonic()
    with pytest.raises(MalformedResponse, match="max_body_size"):
        await client.identity(CORPORATE).managed_accounts.get("2001")
    assert time.monotonic() - started < 2


async def test_a_gzip_bomb_is_cut_at_the_cap(hostile: HostileServer) -> None:
    bomb = gzip.compress(b"\x00" * (256 * 1024 * 1024), compresslevel=6)  # 256 KB -> 256 MB

    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, headers={"content-type": "application/json", "content-encoding": "gzip"}
        )

    hostile.route("GET", ACCOUNT, answer)
    async with BackOffice(
        API_KEY, base_url=hostile.url, retry=QUICK_RETRY, max_body_size=4 * 1024 * 1024
    ) as bo:
        before = rss()
        with pytest.raises(MalformedResponse, match="max_body_size"):
            await bo.identity(CORPORATE).managed_accounts.get("2001")
        assert rss() - before < 100 * 1024 * 1024


async def test_a_huge_error_body_is_read_only_in_part(
    hostile: HostileServer, client: BackOffice
) -> None:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(status=400, body=b"\x1b[31m" + b"A" * (8 * 1024 * 1024))

    hostile.route("GET", ACCOUNT, answer)
    with pytest.raises(WeavrError) as caught:
        await client.identity(CORPORATE).managed_accounts.get("2001")
    assert len(str(caught.value)) < 1000
    assert "\x1b" not in str(caught.value)


async def test_poisoned_request_refs_and_messages_are_not_repeated(
    hostile: HostileServer, client: BackOffice
) -> None:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"errorCode": "X\r\nInjected: yes", "message": "m" * 10_000 + "\x1b[2J"},
            status=409,
            headers={"request-ref": "r" * 5000},
        )

    hostile.route("POST", BLOCK, answer)
    with pytest.raises(WeavrError) as caught:
        await client.identity(CORPORATE).managed_cards.block("3001")
    text = str(caught.value)
    assert "\r" not in text
    assert "\n" not in text
    assert "\x1b" not in text
    assert len(text) < 1200
    assert getattr(caught.value, "request_ref", "x") is None


# -- time ---------------------------------------------------------------------------------


async def test_a_stalled_json_call_fails_within_its_deadline_retries_included(
    hostile: HostileServer,
) -> None:
    async def stall(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.json_response(ACCOUNT_BODY)

    hostile.route("GET", ACCOUNT, stall)
    retry = attrs.evolve(QUICK_RETRY, max_attempts=10, deadline=0.8)
    async with BackOffice(API_KEY, base_url=hostile.url, retry=retry, timeout=0.3) as bo:
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            await bo.identity(CORPORATE).managed_accounts.get("2001")
        assert time.monotonic() - started < 1.3  # not 0.3 s x 10 attempts
    assert 2 <= hostile.count(ACCOUNT) <= 4


def test_the_default_deadline_bounds_a_stalled_call_to_two_timeouts() -> None:
    deadline = Retry().deadline
    assert deadline is not None
    assert deadline <= 2 * 30.0


def _csv_rows(n: int) -> list[bytes]:
    return [f"row-{i},EUR,{i}\n".encode() for i in range(n)]


async def test_a_download_that_keeps_flowing_is_not_cut_by_the_timeout(
    hostile: HostileServer, tmp_path: Path
) -> None:
    rows = _csv_rows(15)

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/csv"})
        await response.prepare(request)
        for row in rows:
            await response.write(row)
            await asyncio.sleep(0.1)
        return response

    hostile.route("GET", STATEMENT, trickle)
    target = tmp_path / "s.csv"
    async with BackOffice(API_KEY, base_url=hostile.url, retry=QUICK_RETRY, timeout=0.5) as bo:
        written = await bo.identity(CORPORATE).managed_accounts.download_statement("2001", target)
    assert target.read_bytes() == b"".join(rows)
    assert written == len(b"".join(rows))


async def test_a_download_is_retried_from_the_start_when_it_fails(
    hostile: HostileServer, tmp_path: Path
) -> None:
    rows = _csv_rows(50)
    attempts = iter(["503", "stall", "ok"])

    async def flaky(request: web.Request) -> web.StreamResponse:
        mode = next(attempts, "ok")
        if mode == "503":
            return web.json_response({"errorCode": "DOWN"}, status=503)
        response = web.StreamResponse(headers={"content-type": "text/csv"})
        await response.prepare(request)
        for i, row in enumerate(rows):
            if mode == "stall" and i == 20:
                await asyncio.sleep(5)  # the idle timeout ends this attempt
            await response.write(row)
        return response

    hostile.route("GET", STATEMENT, flaky)
    target = tmp_path / "s.csv"
    async with BackOffice(API_KEY, base_url=hostile.url, retry=QUICK_RETRY, timeout=0.4) as bo:
        await bo.identity(CORPORATE).managed_accounts.download_statement("2001", target)
        assert bo.stats.retries == 2
    assert target.read_bytes() == b"".join(rows)  # no prefix of a failed attempt kept
    assert hostile.count(STATEMENT) == 3


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", b'{"errorCode": "oops"}'), ("text/html", b"<html>login</html>")],
)
async def test_a_download_of_the_wrong_media_type_saves_nothing(
    hostile: HostileServer, client: BackOffice, tmp_path: Path, content_type: str, body: bytes
) -> None:
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"content-type": content_type})

    hostile.route("GET", STATEMENT, answer)
    with pytest.raises(MalformedResponse, match="expected text/csv"):
        await client.identity(CORPORATE).managed_accounts.download_statement(
            "2001", tmp_path / "s.csv"
        )
    assert list(tmp_path.iterdir()) == []


async def test_an_endless_download_stops_at_its_cap_and_leaves_no_file(
    hostile: HostileServer, tmp_path: Path
) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/csv"})
        await response.prepare(request)
        try:
            for _ in range(10_000):
                await response.write(b"x" * 65536)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    hostile.route("GET", STATEMENT, endless)
    async with BackOffice(
        API_KEY, base_url=hostile.url, retry=QUICK_RETRY, max_download_size=1024 * 1024
    ) as bo:
        with pytest.raises(MalformedResponse, match="max_download_size"):
            await bo.identity(CORPORATE).managed_accounts.download_statement(
                "2001", tmp_path / "s.csv"
            )
    assert list(tmp_path.iterdir()) == []


# -- nothing untyped ------------------------------------------------------------------------


async def test_a_server_that_hangs_up_or_speaks_garbage_gives_typed_errors(
    hostile: HostileServer, client: BackOffice
) -> None:
    async def hang_up(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    hostile.route("GET", ACCOUNT, hang_up)
    with pytest.raises(TransportError):
        await client.identity(CORPORATE).managed_accounts.get("2001")
    # aiohttp itself sends a GET again once when a pooled connection was closed under it.
    assert QUICK_RETRY.max_attempts <= hostile.count(ACCOUNT) <= 2 * QUICK_RETRY.max_attempts


async def test_a_401_after_the_refresh_is_unauthorized_after_exactly_one_refresh(
    hostile: HostileServer, client: BackOffice
) -> None:
    async def refuse(_: web.Request) -> web.StreamResponse:
        return web.json_response({"errorCode": "TOKEN_EXPIRED"}, status=401)

    hostile.route("GET", ACCOUNT, refuse)
    with pytest.raises(Unauthorized):
        await client.identity(CORPORATE).managed_accounts.get("2001")
    assert hostile.count(ACCOUNT) == 2
    assert hostile.count("/access_token") == 2
    tokens = {r.headers.get("Authorization") for r in hostile.calls(ACCOUNT)}
    assert len(tokens) == 2


async def test_server_errors_exhaust_into_server_error_with_the_status(
    hostile: HostileServer, client: BackOffice
) -> None:
    hostile.json("GET", ACCOUNT, {"errorCode": "BOOM"}, status=502)
    with pytest.raises(ServerError) as caught:
        await client.identity(CORPORATE).managed_accounts.get("2001")
    assert caught.value.status == 502
    assert caught.value.error_code == "BOOM"
    assert hostile.count(ACCOUNT) == QUICK_RETRY.max_attempts
