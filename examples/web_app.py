"""An aiohttp service in front of the BackOffice API, sharing ONE `BackOffice` across requests.

    GET /{corporates|consumers}/{identity_id}/accounts/{account_id}            balance, as JSON
    GET /{corporates|consumers}/{identity_id}/accounts/{account_id}/statement  entries, as NDJSON

Configuration comes from the environment: `WEAVR_API_KEY`, and `WEAVR_BASE_URL` (default: the
sandbox). `python examples/web_app.py` serves on http://127.0.0.1:8080; without `WEAVR_API_KEY`
it serves against a seeded embedded simulator instead, and prints URLs to try.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from weavr_async import (
    SANDBOX_URL,
    APIError,
    BackOffice,
    Forbidden,
    Identity,
    IdentitySession,
    InvalidRequest,
    NotFound,
    WeavrError,
)
from weavr_async.testing import FakeBackOffice

BACKOFFICE = web.AppKey("backoffice", BackOffice)
ACCOUNT = "/{kind:corporates|consumers}/{identity_id}/accounts/{account_id}"
IDENTITY_KINDS = {"corporates": Identity.corporate, "consumers": Identity.consumer}
# The caller's mistakes keep their status; anything else is the upstream failing us (502),
# including our own API key being refused: not something the caller can fix.
CALLER_ERRORS: list[tuple[type[WeavrError], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (InvalidRequest, 400),  # raised before any request is sent: a bad id in the URL
]
# Statement lines go out in chunks of about this size: a write per ~600-byte entry would add a
# chunk header and a socket write to each.
CHUNK_BYTES = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(api_key: str, base_url: str = SANDBOX_URL) -> web.Application:
    async def backoffice(app: web.Application) -> AsyncIterator[None]:
        # The app owns its HTTP session (other upstreams may use it too) and lends it to the
        # client, which therefore never closes it. One client for all requests means one
        # connection pool, one cached token per identity and one `max_concurrency` budget.
        async with (
            aiohttp.ClientSession() as session,
            BackOffice(api_key, base_url=base_url, session=session) as bo,
        ):
            app[BACKOFFICE] = bo
            yield

    app = web.Application(middlewares=[weavr_errors])
    app.cleanup_ctx.append(backoffice)
    app.router.add_get(ACCOUNT, account_balance)
    app.router.add_get(ACCOUNT + "/statement", account_statement)
    return app


@web.middleware
async def weavr_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except WeavrError as exc:
        status = next((code for kind, code in CALLER_ERRORS if isinstance(exc, kind)), 502)
        upstream = exc if isinstance(exc, APIError) else None  # None: refused before sending
        body = {
            "error": type(exc).__name__,
            "error_code": upstream.error_code if upstream else None,
            "message": str(exc),
            # What Weavr support asks for when a call is reported: worth logging too.
            "request_ref": upstream.request_ref if upstream else None,
        }
        return web.json_response(body, status=status)


def acting_for(request: web.Request) -> IdentitySession:
    identity = IDENTITY_KINDS[request.match_info["kind"]](request.match_info["identity_id"])
    return request.app[BACKOFFICE].identity(identity)  # no I/O: cheap per request


async def account_balance(request: web.Request) -> web.Response:
    account = await acting_for(request).managed_accounts.get(request.match_info["account_id"])
    return web.json_response(
        {
            "id": account.id,
            "currency": account.currency,
            "available_balance": account.balances.available_balance,
            "actual_balance": account.balances.actual_balance,
            "state": account.state.state,
        }
    )


async def account_statement(request: web.Request) -> web.StreamResponse:
    statement = acting_for(request).managed_accounts.statement(
        request.match_info["account_id"], order="ASC"
    )
    # `raw()` hands over the API's JSON objects undecoded, the cheapest way to re-serialise
    # them; the walk holds a few pages at a time, however long the history.
    chunks = ndjson_chunks(statement.raw())
    async with aclosing(chunks):
        # Until the first chunk is in, nothing is sent, so an unknown account or a refused
        # identity still becomes a proper error status (the middleware's).
        first = await anext(chunks)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        await response.write(first)
        try:
            async for chunk in chunks:
                await response.write(chunk)
        except WeavrError as exc:
            # Too late for an error status. Any error but a WeavrError (which the middleware
            # would answer) makes aiohttp cut the connection: the client sees a truncated
            # body, never a statement that merely looks complete.
            raise RuntimeError("statement walk failed after the answer started") from exc
        await response.write_eof()
    return response


async def ndjson_chunks(
    entries: AsyncGenerator[dict[str, Any], None],
) -> AsyncGenerator[bytes, None]:
    """The entries as NDJSON, about `CHUNK_BYTES` at a time (at least one chunk, maybe empty)."""
    chunk = bytearray()
    async with aclosing(entries):  # stops the walk's page requests as soon as we stop
        async for entry in entries:
            chunk += orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
            if len(chunk) >= CHUNK_BYTES:
                yield bytes(chunk)
                chunk.clear()
    yield bytes(chunk)


async def simulated_app() -> web.Application:
    """The app against a seeded simulator that lives as long as the app."""
    fake = FakeBackOffice(seed=1)
    await fake.start()
    corporate = fake.add_identity("CORPORATE")
    account = fake.add_managed_account(corporate, currency="EUR", history=10_000)

    async def stop_simulator(app: web.Application) -> None:
        await fake.close()  # after the client's cleanup, which runs first

    app = create_app(fake.api_key, fake.url)
    app.on_cleanup.append(stop_simulator)
    url = f"http://127.0.0.1:8080/corporates/{corporate.id}/accounts/{account.id}"
    print(f"No WEAVR_API_KEY: serving a simulator. Try:\n  curl {url}\n  curl {url}/statement")
    return app


if __name__ == "__main__":
    api_key = os.environ.get("WEAVR_API_KEY")
    if api_key:
        app = create_app(api_key, os.environ.get("WEAVR_BASE_URL", SANDBOX_URL))
        web.run_app(app, host="127.0.0.1", port=8080)
    else:
        web.run_app(simulated_app(), host="127.0.0.1", port=8080)
