"""The aiohttp application of the simulator: the pipeline every request goes through.

One step per concern, outermost first, each free to answer instead of passing the request on::

    record -> delay -> validate request -> rate limit -> route (404/405) -> run due transfers
    -> faults -> judge the answer -> contain bugs (500) -> authenticate (401)
    -> idempotent replay -> refusals -> the operation's handler

A step sees the answers of the steps below it only, so ``response_validator`` judges the
operations' own answers (auth, replays, handlers) and never an injected fault, the rate
limiter or the request validator's 400, which are off-contract on purpose.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from aiohttp import web

from ._entities import StoredIdentity
from ._faults import FaultAction, Faults
from ._handlers._call import Call, Knobs
from ._rate_limit import RateLimiter
from ._records import RecordedRequest
from ._render import accept_kind, render_csv, render_pdf
from ._replies import Refused, Reply
from ._routes import BASE_PATH, ROUTES, ROUTES_BY_OPERATION, Route
from ._statements import StatementPage
from ._store import Store
from ._transfers import run_due_transfers

__all__ = ["Pipeline", "RequestValidator", "ResponseValidator", "Served"]

RequestValidator = Callable[[RecordedRequest], str | None]
"""Vets one request before anything else: a message (answered 400) or None."""
ResponseValidator = Callable[[RecordedRequest, int, Mapping[str, str], bytes, str], str | None]
"""Checks one answer: (request, status, headers, body, content type) -> violation or None."""

_MALFORMED: dict[str, tuple[bytes, str]] = {
    "truncated": (b'{"entry": [{"transactionId": {"type": "TRANSF', "application/json"),
    "garbage": (b"\x00\xff\xfe<<not json at all>>\x07", "application/json"),
    "html": (
        b"<html><head><title>502 Bad Gateway</title></head>"
        b"<body><h1>Bad Gateway</h1></body></html>",
        "text/html",
    ),
}


class Served(Knobs, Protocol):
    """What the pipeline reads and updates on the simulator it serves (FakeBackOffice)."""

    api_key: str
    latency: float
    faults: Faults
    request_validator: RequestValidator | None
    response_validator: ResponseValidator | None
    response_violations: list[str]
    record_requests: bool
    requests: list[RecordedRequest]
    token_requests: int
    idempotent_replays: int
    handler_errors: list[Exception]


class Exchange:
    """One request on its way through the pipeline."""

    __slots__ = ("dropped", "identity", "record", "request", "route")

    def __init__(self, request: web.Request, record: RecordedRequest, route: Route | None) -> None:
        self.request = request
        self.record = record
        self.route = route
        self.identity: StoredIdentity | None = None
        # Close the connection instead of answering (an injected drop).
        self.dropped = False


Next = Callable[[Exchange], Awaitable[web.Response]]


class Step(Protocol):
    """One step: answers ``exchange`` itself, or passes it on to ``inner``."""

    def __call__(self, exchange: Exchange, inner: Next) -> Awaitable[web.Response]: ...


class Pipeline:
    """The steps between a request and its operation's handler, in order."""

    def __init__(self, served: Served, store: Store, limiter: RateLimiter) -> None:
        self._served = served
        self._store = store
        self._limiter = limiter
        self._idempotency: dict[tuple[str, str, str, bytes], tuple[int, bytes | None]] = {}
        self._refs = 0
        steps: tuple[Step, ...] = (
            self._delay,
            self._validate_request,
            self._limit_rate,
            self._refuse_unrouted,
            self._run_due_transfers,
            self._inject_faults,
            self._judge_answer,
            self._contain_bugs,
            self._authenticate,
            self._replay,
            self._answer_refusals,
        )
        first: Next = self._dispatch
        for step in reversed(steps):
            first = functools.partial(step, inner=first)
        self._first = first

    def make_app(self) -> web.Application:
        """The aiohttp application, its routes named by operationId."""
        app = web.Application(middlewares=[self._record], client_max_size=256 * 1024 * 1024)
        for route in ROUTES:
            app.router.add_route(
                route.method, BASE_PATH + route.path, _unused, name=route.operation_id
            )
        return app

    # ------------------------------------------------------------------ the steps

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        """Record the request, and once answered its status (0: the connection was dropped)."""
        served = self._served
        operation_id: str | None = request.match_info.route.name
        path = request.path
        if path.startswith(BASE_PATH):
            path = path[len(BASE_PATH) :] or "/"
        record = RecordedRequest(
            request.method,
            path,
            list(request.query.items()),
            {k.lower(): v for k, v in request.headers.items()},
            await request.read(),
            0,
            operation_id,
        )
        if served.record_requests:
            served.requests.append(record)
        if operation_id == "requestAccessToken":
            served.token_requests += 1
        route = None if operation_id is None else ROUTES_BY_OPERATION[operation_id]
        exchange = Exchange(request, record, route)
        response = await self._first(exchange)
        if exchange.dropped:
            if request.transport is not None:
                request.transport.abort()
        else:
            record.status = response.status
        self._give_ref(response)
        return response

    async def _delay(self, exchange: Exchange, inner: Next) -> web.Response:
        """``latency``, plus ``faults.slow_seconds`` at ``faults.slow_rate``."""
        delay = self._served.latency + self._served.faults.slow_delay()
        if delay > 0:
            await asyncio.sleep(delay)
        return await inner(exchange)

    async def _validate_request(self, exchange: Exchange, inner: Next) -> web.Response:
        """``request_validator``'s message, answered 400."""
        validator = self._served.request_validator
        if validator is not None:
            message = validator(exchange.record)
            if message is not None:
                return _json(400, orjson.dumps({"message": message[:255]}))
        return await inner(exchange)

    async def _limit_rate(self, exchange: Exchange, inner: Next) -> web.Response:
        """429 beyond the limits of ``set_rate_limits``."""
        refused = self._limiter.admit()
        if refused is None:
            return await inner(exchange)
        self._served.faults.injected["rate_limiter"] += 1
        limit, reset = refused
        headers = {"x-ratelimit-limit": limit, "x-ratelimit-reset": reset}
        return web.Response(status=429, headers=headers)

    async def _refuse_unrouted(self, exchange: Exchange, inner: Next) -> web.Response:
        """404 for a path no operation has, 405 for a method its path does not take."""
        if exchange.route is not None:
            return await inner(exchange)
        exc = getattr(exchange.request.match_info, "http_exception", None)
        status = exc.status if isinstance(exc, web.HTTPException) else 404
        if status == 405:
            body = {"code": "METHOD_NOT_ALLOWED", "message": "Method not allowed"}
        else:
            body = {"code": "NOT_FOUND", "message": "No such operation"}
        return _json(status, orjson.dumps(body))

    async def _run_due_transfers(self, exchange: Exchange, inner: Next) -> web.Response:
        """Scheduled transfers run on the first request after they are due."""
        run_due_transfers(self._store)
        return await inner(exchange)

    async def _inject_faults(self, exchange: Exchange, inner: Next) -> web.Response:
        """The scripted fault for this operation, else one drawn at the configured rates."""
        faults = self._served.faults
        assert exchange.route is not None
        fault = faults.next_action(exchange.route.operation_id)
        if fault is None:
            return await inner(exchange)
        faults.injected[fault.kind] += 1
        if fault.kind == "drop_after_commit":
            response = await inner(exchange)
            exchange.dropped = True
            return response
        exchange.dropped = fault.kind == "drop"
        return _fault_response(fault, faults.rate_limit_header)

    async def _judge_answer(self, exchange: Exchange, inner: Next) -> web.Response:
        """``response_validator`` on the answer; its messages go to ``response_violations``."""
        response = await inner(exchange)
        validator = self._served.response_validator
        if validator is None:
            return response
        self._give_ref(response)  # the answer is judged as the client will get it
        record = exchange.record
        body = response.body if isinstance(response.body, bytes) else b""
        content_type = response.headers.get("content-type", "")
        try:
            message = validator(record, response.status, response.headers, body, content_type)
        except Exception as exc:  # a broken validator must not turn into a 500 for the client
            message = f"{record.operation_id}: response validator raised {exc!r}"
        if message is not None:
            self._served.response_violations.append(message)
        return response

    async def _contain_bugs(self, exchange: Exchange, inner: Next) -> web.Response:
        """A handler that raised is a simulator bug: 500, and kept in ``handler_errors``."""
        try:
            return await inner(exchange)
        except Exception as exc:
            self._served.handler_errors.append(exc)
            body = {"code": "INTERNAL_ERROR", "message": repr(exc)[:255]}
            return _json(500, orjson.dumps(body))

    async def _authenticate(self, exchange: Exchange, inner: Next) -> web.Response:
        """401 (no body) without the API key, or (but to get a token) a live bearer token."""
        headers = exchange.request.headers
        if headers.get("api-key") != self._served.api_key:
            return web.Response(status=401)
        assert exchange.route is not None
        if exchange.route.operation_id != "requestAccessToken":
            scheme, _, token = headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                exchange.identity = self._store.tokens.get(token.strip())
            if exchange.identity is None:
                return web.Response(status=401)
        return await inner(exchange)

    async def _replay(self, exchange: Exchange, inner: Next) -> web.Response:
        """A repeat of (identity, operation, idempotency-ref, body) gets the first answer."""
        route, identity = exchange.route, exchange.identity
        ref = exchange.request.headers.get("idempotency-ref")
        if route is None or not route.idempotent or identity is None or not ref:
            return await inner(exchange)
        body = hashlib.sha256(exchange.record.body).digest()
        key = (identity.id, route.operation_id, ref, body)
        stored = self._idempotency.get(key)
        if stored is not None:
            self._served.idempotent_replays += 1
            return _json(*stored)
        response = await inner(exchange)
        payload = response.body if isinstance(response.body, bytes) else None
        self._idempotency[key] = (response.status, payload)
        return response

    async def _answer_refusals(self, exchange: Exchange, inner: Next) -> web.Response:
        """A refusal raised by the handler, its 400 in the operation's declared shape."""
        try:
            return await inner(exchange)
        except Refused as refusal:
            assert exchange.route is not None
            return _reply(refusal.reply(exchange.route.errors))

    async def _dispatch(self, exchange: Exchange) -> web.Response:
        """Run the operation's handler; render its answer."""
        route, request = exchange.route, exchange.request
        assert route is not None
        call = Call(
            self._store,
            self._served,
            exchange.identity,
            request.match_info,
            request.query,
            exchange.record.body,
            request.headers.get("Accept", ""),
        )
        answer = route.handler(call)
        if isinstance(answer, StatementPage):
            return _statement(answer, call, route)
        return _reply(answer)

    def _give_ref(self, response: web.Response) -> None:
        """Every answer carries a request-ref (unique, derived from the seed)."""
        if "request-ref" not in response.headers:
            self._refs += 1
            response.headers["request-ref"] = f"fake-{self._store.seed}-{self._refs:08d}"


async def _unused(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound()  # never reached: the pipeline answers every request


def _json(status: int, payload: bytes | None) -> web.Response:
    if payload is None:
        return web.Response(status=status)
    return web.Response(status=status, body=payload, headers={"content-type": "application/json"})


def _reply(reply: Reply) -> web.Response:
    return _json(reply.status, None if reply.body is None else orjson.dumps(reply.body))


def _statement(page: StatementPage, call: Call, route: Route) -> web.Response:
    """The page as JSON, or as the CSV or PDF export the Accept header asks for."""
    kind = accept_kind(call.accept)
    if kind == "csv":
        body = render_csv(page.entries())
        return web.Response(status=200, body=body, headers={"content-type": "text/csv"})
    if kind == "pdf":
        what = (
            "Managed account" if route.operation_id == "managedAccountStatement" else "Managed card"
        )
        title = f"{what} {call.path['id']} statement ({page.count} entries)"
        body = render_pdf(title, page.entries())
        return web.Response(status=200, body=body, headers={"content-type": "application/pdf"})
    return _json(200, orjson.dumps(page.body()))


def _fault_response(fault: FaultAction, rate_limit_header: str) -> web.Response:
    if fault.kind == "rate_limit":
        headers = {"x-ratelimit-limit": rate_limit_header, "x-ratelimit-reset": str(fault.reset)}
        return web.Response(status=429, headers=headers)
    if fault.kind == "malformed":
        payload, content_type = _MALFORMED[fault.malformed]
        return web.Response(status=200, body=payload, headers={"content-type": content_type})
    if fault.kind == "drop":
        return web.Response(status=599)
    headers = dict(fault.headers or {})
    body = fault.body
    if body is None:
        return web.Response(status=fault.status, headers=headers)
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        headers.setdefault("content-type", "application/json")
        return web.Response(status=fault.status, body=raw, headers=headers)
    headers["content-type"] = "application/json"
    return web.Response(status=fault.status, body=orjson.dumps(body), headers=headers)
