"""A hostile server of our own: it answers `POST /access_token` as the API does, then every
other request as the test says, and records everything it receives.

Tests here play a broken or malicious API on 127.0.0.1 and assert that the SDK neither leaks a
credential, nor loses or invents data, nor hangs, nor lets an untyped error escape.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import orjson
import pytest
from aiohttp import web

from weavr_async import BackOffice, Identity, Retry

API_KEY = "hostile-test-api-key-0123456789"
CORPORATE = Identity.corporate("1001")
# Waits of milliseconds, not seconds: the same code paths, shorter sleeps.
QUICK_RETRY = Retry(max_attempts=3, base_delay=0.001, max_delay=0.005, max_rate_limit_wait=0.05)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class Received:
    """One request as the hostile server saw it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


class HostileServer:
    """An aiohttp server on 127.0.0.1. `route(method, path, handler)` sets the answer to one
    path; anything without a route is answered by `fallback` (404 unless set). Tokens are
    issued as `token-<n>`, one new token per token request."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._routes: dict[tuple[str, str], Handler] = {}
        self.fallback: Handler | None = None
        self.token_handler: Handler | None = None
        self._tokens = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.port = 0

    async def start(self) -> None:
        app = web.Application(client_max_size=16 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # Handlers a test left sleeping are cancelled when the client hangs up or at close.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=0.5,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def route(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def json(self, method: str, path: str, body: Any, *, status: int = 200, **headers: str) -> None:
        """Answer `method path` with a fixed JSON body."""
        raw = orjson.dumps(body)

        async def answer(_: web.Request) -> web.StreamResponse:
            return web.Response(
                status=status, body=raw, content_type="application/json", headers=headers
            )

        self.route(method, path, answer)

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.received if path is None or r.path == path)

    def calls(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(
            Received(
                request.method,
                request.path,
                tuple(request.query.items()),
                dict(request.headers),
                body,
            )
        )
        if request.path == "/access_token" and request.method == "POST":
            if self.token_handler is not None:
                return await self.token_handler(request)
            token = f"token-{next(self._tokens)}"
            return web.json_response({"token": token})
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            handler = self.fallback
        if handler is None:
            return web.json_response({"errorCode": "NOT_FOUND"}, status=404)
        return await handler(request)


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    server = HostileServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def bystander() -> AsyncIterator[HostileServer]:
    """A second server, the target of redirects: it must receive nothing."""
    server = HostileServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def client(hostile: HostileServer) -> AsyncIterator[BackOffice]:
    async with BackOffice(API_KEY, base_url=hostile.url, retry=QUICK_RETRY, timeout=2.0) as bo:
        # (The standard budget: no hostile test comes near 100 requests a minute.)
        yield bo
