"""The one place where HTTP happens: one exchange path for every request the SDK sends.

`Transport.send` (JSON calls) and `Transport.download` (statement files) both go through
`_exchange`, which starts the logical call; its retry loop (`_attempts`) owns the retry budget
(token requests included), the deadline, the single token refresh after a 401. `_attempt`
sends once: it obtains the token, waits its turn at the rate gate and the client-wide cap,
sends without following redirects, and classifies what came back against the operation's one
success status; a first attempt that fails goes on into the loop (most calls never enter it,
and pay for none of its frames). Reading a body is
bounded in size and time. Nothing aiohttp raises leaves here untyped or with its frames (they
hold the request headers in clear).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import Any, NoReturn, TypeVar

import aiohttp
import backoff
import orjson

from .._budget import RateBudget
from .._gc import gc_paused
from .._operation import Operation, QueryPairs
from .._tracing import NO_SPAN, span, tracing
from .._version import USER_AGENT
from .._wire import (
    error_from_response,
    join_url,
    parse_rate_limit,
    parse_rate_limit_reset,
    request_ref_of,
)
from ..errors import MalformedResponse, TransportError, WeavrError
from ..models import Secret
from .proxies import env_proxy, proxy_and_auth
from .redaction import RequestHeaders, frameless
from .signals import Clock, Refused, Request, Retryable, is_transient, mark_transient, with_margin
from .values import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_DOWNLOAD_SIZE,
    Auth,
    CallOptions,
    DownloadSink,
    Response,
    Retry,
    TransportStats,
)

__all__ = ["Transport", "decode_json"]

log = logging.getLogger("weavr_async")

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_BODY_LIMIT = 64 * 1024
_CHUNK = 64 * 1024
_HEADER_SETS = 1024  # header sets kept, one per token in use (and accept type)
_URLS = 4096  # URLs kept, one per operation and path values
_GC_PAUSE_FROM = 64 * 1024  # bodies this large decode with the cyclic GC paused
T = TypeVar("T")
Receive = Callable[[Operation, aiohttp.ClientResponse], Awaitable[T]]
"""What reads an attempt's successful answer into the call's result."""


class _Answer:
    """How a JSON call's successful answer becomes its result: the attempt reads the body
    (bounded) itself and `interpret`s it, without a coroutine of its own."""

    __slots__ = ("interpret",)

    def __init__(self, interpret: Callable[[Operation, aiohttp.ClientResponse, bytes], Any]):
        self.interpret = interpret


class Transport:
    """Sends operations to the API over one shared `aiohttp.ClientSession`.

    `timeout` bounds one attempt of a JSON call, answer and body; for downloads it is an idle
    timeout (the body may take as long as it keeps flowing). `Retry.deadline` bounds the
    attempts of one call together.
    """

    def __init__(
        self,
        *,
        api_key: Secret,
        base_url: str,
        session: aiohttp.ClientSession | None,
        timeout: float,
        retry: Retry,
        max_concurrency: int,
        ssl: Any = True,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_download_size: int = DEFAULT_MAX_DOWNLOAD_SIZE,
        proxy: str | None = None,
        trust_env: bool = True,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self.defaults = CallOptions(timeout, retry)
        # The proxy is resolved once, for the one host the client talks to: aiohttp's own
        # trust_env looks the environment up (in a thread) on every request, and would also
        # send ~/.netrc credentials for the API's host.
        if proxy is None and trust_env:
            proxy = env_proxy(self.base_url)
        self._proxy, self._proxy_auth = proxy_and_auth(proxy)
        self._trace_configs = trace_configs
        self.max_concurrency = max_concurrency
        self.max_body_size = max_body_size
        self.max_download_size = max_download_size
        self._ssl = ssl
        self._slots = asyncio.Semaphore(max_concurrency)
        self.budget = budget if budget is not None else RateBudget.unlimited()
        self.stats = TransportStats()
        self._closed = False
        self._header_sets: dict[tuple[Secret | None, str], RequestHeaders] = {}
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._answer_json = _Answer(self._json_answer)
        self._answer_bytes = _Answer(self._bytes_answer)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, max_concurrency={self.max_concurrency})"

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this BackOffice client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=max(self.max_concurrency, 10), ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"user-agent": USER_AGENT},
                trace_configs=self._trace_configs,
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
        self._header_sets.clear()
        self._urls.clear()
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    # -- the two kinds of call ------------------------------------------------------------

    def send(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, str] | None = None,
        query: QueryPairs | None = None,
        json_body: Any = None,
        auth: Auth | None = None,
        idempotency_ref: str | None = None,
        decode: bool = True,
        options: CallOptions | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """Send one logical call, retrying as the operation allows; raise typed errors.

        The `idempotency-ref` is fixed here, once per logical call, so every retry repeats it.
        With `decode=False` the body comes back as the bytes that were read. Not a coroutine
        itself: it fixes the request and hands back the exchange's coroutine to await (one
        frame fewer on every call, and at every resumption of it).
        """
        if op.idempotency_ref and idempotency_ref is None:
            idempotency_ref = str(uuid.uuid4())
        request = Request(
            op,
            self._url(op, path_params),
            query or [],
            orjson.dumps(json_body) if json_body is not None else None,
            idempotency_ref,
            "application/json",
        )
        answer = self._answer_json if decode else self._answer_bytes
        return self._exchange(request, auth, answer, options or self.defaults, idle=False)

    async def download(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, str],
        query: QueryPairs,
        auth: Auth | None,
        accept: str,
        sink: DownloadSink,
        options: CallOptions | None = None,
    ) -> int:
        """Stream a body of media type `accept` into `sink`; returns the bytes written.

        Retried like any read, from the first byte again (`sink.restart()`), when it fails
        before or while the body flows.
        """
        request = Request(op, self._url(op, path_params), query, None, None, accept)

        async def receive(op: Operation, resp: aiohttp.ClientResponse) -> int:
            if resp.content_type != accept:
                self._malformed(
                    op, f"expected {accept}, got {resp.content_type!r}", resp.headers, retry=False
                )
            await sink.restart()
            written = 0
            async for chunk in resp.content.iter_chunked(_CHUNK):
                written += len(chunk)
                if written > self.max_download_size:
                    self._malformed(
                        op,
                        f"body larger than max_download_size ({self.max_download_size} bytes)",
                        resp.headers,
                        retry=False,
                    )
                await sink.write(chunk)
            return written

        return await self._exchange(request, auth, receive, options or self.defaults, idle=True)

    # -- the exchange ---------------------------------------------------------------------

    def _exchange(
        self,
        request: Request,
        auth: Auth | None,
        receive: Receive[T] | _Answer,
        options: CallOptions,
        *,
        idle: bool,
    ) -> Coroutine[Any, Any, T]:
        """Attempts of one logical call, within its retry budget and its deadline; a 401 on
        a token refreshes it once and goes again at once. Traced as one span. Hands back the
        coroutine of the first attempt, which goes on into the retry loop when it fails."""
        if tracing():
            return self._traced(request, auth, receive, options, idle)
        clock = Clock()
        return self._attempt(
            request,
            auth,
            receive,
            options,
            clock,
            options.retry.deadline,
            idle,
            NO_SPAN,
            first=True,
        )

    async def _traced(
        self,
        request: Request,
        auth: Auth | None,
        receive: Receive[T] | _Answer,
        options: CallOptions,
        idle: bool,
    ) -> T:
        identity = getattr(auth, "identity", None)
        with span(
            f"weavr {request.op.operation_id}",
            **{
                "weavr.operation_id": request.op.operation_id,
                "http.request.method": request.op.method,
                "weavr.identity_type": getattr(identity, "type", None),
            },
        ) as traced:
            return await self._attempts(request, auth, receive, options, idle, traced, Clock())

    async def _attempts(
        self,
        request: Request,
        auth: Auth | None,
        receive: Receive[T] | _Answer,
        options: CallOptions,
        idle: bool,
        traced: Any,
        clock: Clock,
        failure: Retryable | Refused | None = None,
    ) -> T:
        """The retry loop; `failure` is how a first attempt made without it ended."""
        op = request.op
        retry = options.retry
        delays: Iterator[float | None] | None = None
        refreshed = False
        attempt = 0 if failure is None else 1
        while True:
            if failure is None:
                attempt += 1
                remaining = None if retry.deadline is None else retry.deadline - clock.spent
                if traced is not NO_SPAN:
                    traced.set("weavr.attempts", attempt)
                try:
                    return await self._attempt(
                        request, auth, receive, options, clock, remaining, idle, traced
                    )
                except (Retryable, Refused) as exc:
                    failure = exc
            if isinstance(failure, Refused):
                if refreshed or auth is None:
                    raise failure.error from None
                # The token expired or was revoked: get a new one once, and go again at once.
                refreshed = True
                attempt -= 1
                self._forget_headers(failure.token)
                if auth.invalidate(failure.token):
                    # Of many requests that met the same 401 only the first forgets the
                    # token (and so causes a new one to be requested): only it counts.
                    self.stats.token_refreshes += 1
                failure = None
                continue
            error = failure.error
            hint = failure.wait_hint
            if hint is not None:
                wait = hint
            else:
                if delays is None:
                    delays = backoff.expo(factor=retry.base_delay, max_value=retry.max_delay)
                    next(delays)
                wait = random.uniform(0, next(delays) or 0.0)
            out_of_time = retry.deadline is not None and clock.spent + wait >= retry.deadline
            if attempt >= retry.max_attempts or out_of_time:
                raise mark_transient(error) from error.__cause__ or failure.__cause__
            failure = None
            self.stats.retries += 1
            traced.set("weavr.retries", attempt)
            log.info(
                "retrying %s (attempt %d) after %.2fs: %s",
                op.operation_id,
                attempt + 1,
                wait,
                error,
            )
            await asyncio.sleep(wait)
            clock.spent += wait

    async def _attempt(  # noqa: C901 (one send: token, headers, budget, then each failure mapped to retry or not)
        self,
        request: Request,
        auth: Auth | None,
        receive: Receive[T] | _Answer,
        options: CallOptions,
        clock: Clock,
        remaining: float | None,
        idle: bool,
        traced: Any,
        *,
        first: bool = False,
    ) -> T:
        """One attempt; a `first` one that fails in a way that may pass goes on into the retry
        loop (`_attempts`), others raise `Retryable`/`Refused` to it."""
        try:
            op = request.op
            token = None
            if auth is not None and (token := auth.cached()) is None:
                try:
                    token = await auth.token()
                except WeavrError as exc:
                    # The identity's token could not be had. This operation was never sent, so if
                    # the failure may pass (a 5xx, a 429, the network) it goes again within its
                    # own budget: the token request itself is tried once per attempt of the call.
                    if is_transient(exc):
                        raise Retryable(exc) from exc
                    raise
            headers = self._headers(token, request.accept)
            if options.headers or request.idempotency_ref is not None or request.body is not None:
                headers = RequestHeaders.copy_of(headers)
                headers.update(options.headers)  # checked by the client: none of them is ours
                if request.idempotency_ref is not None:
                    headers["idempotency-ref"] = request.idempotency_ref
                if request.body is not None:
                    headers["content-type"] = "application/json"
            async with self._slots:
                # The start is recorded in the budget as close to the send as it can be.
                if not self.budget.start_now():
                    waited = await self.budget.acquire(max_wait=options.retry.max_rate_limit_wait)
                    self.stats.rate_limit_wait_seconds += waited
                started = time.monotonic()
                self.stats.requests += 1
                try:
                    async with (self._session or self._client()).request(
                        op.method,
                        request.url,
                        params=request.query or None,
                        data=request.body,
                        headers=headers,
                        timeout=self._timeout_for(options.timeout, remaining, idle),
                        ssl=self._ssl,
                        proxy=self._proxy,
                        proxy_auth=self._proxy_auth,
                        allow_redirects=False,
                    ) as resp:
                        if traced is not NO_SPAN:
                            traced.set("http.response.status_code", resp.status)
                            traced.set("weavr.request_ref", request_ref_of(resp.headers))
                        if resp.status != op.success:
                            await self._refuse(op, resp, token, options.retry)
                        result: T
                        if isinstance(receive, _Answer):
                            raw = (
                                await resp.read()
                                if self._sized(op, resp)
                                else await self._read_counting(op, resp)
                            )
                            result = receive.interpret(op, resp, raw)
                        else:
                            result = await receive(op, resp)
                except (Retryable, Refused, WeavrError):
                    raise
                except aiohttp.ClientConnectorCertificateError as exc:
                    # An untrusted certificate will not become trusted by asking again.
                    raise self._transport_error(op, exc) from frameless(exc)
                except aiohttp.ClientConnectorError as exc:
                    # Never reached the server: every operation may try again.
                    raise Retryable(self._transport_error(op, exc)) from frameless(exc)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    # The request may have reached the server and been applied: only operations
                    # that are safe to repeat go again.
                    error = self._transport_error(op, exc)
                    if op.retry_safe:
                        raise Retryable(error) from frameless(exc)
                    raise error from frameless(exc)
                except Exception as exc:
                    # aiohttp refusing what it was given (a header it will not send, say): its
                    # message and frames may hold the value, so neither is kept.
                    raise TransportError(
                        f"{op.operation_id}: the request could not be sent ({type(exc).__name__})",
                        operation=op.operation_id,
                    ) from None
                finally:
                    clock.spent += time.monotonic() - started
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s -> %s in %.1f ms (request-ref %s)",
                    op.method,
                    op.operation_id,
                    resp.status,
                    (time.monotonic() - started) * 1000,
                    request_ref_of(resp.headers),
                )
            return result
        except (Retryable, Refused) as failure:
            if not first:
                raise
            # Most calls succeed at once: a first attempt goes without the retry loop, which
            # only a failure enters.
            return await self._attempts(
                request, auth, receive, options, idle, traced, clock, failure
            )

    def _url(self, op: Operation, path_params: Mapping[str, str] | None) -> str:
        """The URL of `op` with `path_params` filled in, built once per operation and values
        (a backend asks for the same few accounts and cards over and over)."""
        key = (op.operation_id, tuple(path_params.items()) if path_params else ())
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= _URLS:
                self._urls.clear()
            url = self._urls[key] = join_url(self.base_url, op.render_path(path_params or {}))
        return url

    def _headers(self, token: Secret | None, accept: str) -> RequestHeaders:
        """The credentials and `accept` headers of a request, built once per token: shared
        by the requests that need no other header (aiohttp copies what it is given), copied
        by those that do."""
        key = (token, accept)
        headers = self._header_sets.get(key)
        if headers is None:
            if len(self._header_sets) >= _HEADER_SETS:
                self._header_sets.clear()  # tokens come and go; a full cache starts over
            headers = RequestHeaders(api_key=self._api_key, token=token, accept=accept)
            self._header_sets[key] = headers
        return headers

    def _forget_headers(self, token: Secret) -> None:
        for key in [key for key in self._header_sets if key[0] == token]:
            del self._header_sets[key]

    def _timeout_for(
        self, timeout: float, remaining: float | None, idle: bool
    ) -> aiohttp.ClientTimeout:
        if not idle and (remaining is None or remaining >= timeout):
            # A first attempt, and most others: the same (frozen) value every time.
            cached = self._timeouts.get(timeout)
            if cached is None:
                cached = self._timeouts[timeout] = aiohttp.ClientTimeout(total=timeout)
            return cached
        limit = timeout if remaining is None else max(min(timeout, remaining), 0.001)
        if idle:  # downloads: the body may flow for as long as it keeps flowing
            return aiohttp.ClientTimeout(total=remaining, sock_connect=limit, sock_read=limit)
        return aiohttp.ClientTimeout(total=limit)

    def _malformed(
        self, op: Operation, problem: str, headers: Mapping[str, str], *, retry: bool
    ) -> NoReturn:
        ref = request_ref_of(headers)
        error = MalformedResponse(
            f"{op.operation_id}: {problem} (request-ref {ref})", operation=op.operation_id
        )
        if retry and op.retry_safe:
            raise Retryable(error)
        raise error

    def _json_answer(self, op: Operation, resp: aiohttp.ClientResponse, raw: bytes) -> Response:
        """A JSON call's answer: its body decoded (None when empty)."""
        request_ref = request_ref_of(resp.headers)
        data = self._decode(op, resp.content_type, raw, request_ref) if raw else None
        return Response(resp.status, data, request_ref, resp.headers)

    def _bytes_answer(self, op: Operation, resp: aiohttp.ClientResponse, raw: bytes) -> Response:
        """A JSON call's answer with its body as read, to be decoded later (pages)."""
        return Response(resp.status, raw, request_ref_of(resp.headers), resp.headers)

    def _sized(self, op: Operation, resp: aiohttp.ClientResponse) -> bool:
        """Whether the body is exactly its announced length, which is within `max_body_size`
        (then it is read whole, nothing to count); raises when the length announced is over."""
        length = resp.content_length
        if length is None:
            return False
        if length > self.max_body_size:
            self._too_large(op, resp.headers)
        return "content-encoding" not in resp.headers

    async def _read_counting(self, op: Operation, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body of unknown length (or compressed), refused past `max_body_size`
        (counted after decompression)."""
        limit = self.max_body_size
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                self._too_large(op, resp.headers)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, op: Operation, headers: Mapping[str, str]) -> NoReturn:
        self._malformed(
            op,
            f"body larger than max_body_size ({self.max_body_size} bytes)",
            headers,
            retry=False,
        )

    def _decode(self, op: Operation, content_type: str, raw: bytes, request_ref: str | None) -> Any:
        if content_type not in ("application/json", "application/octet-stream", ""):
            self._malformed(op, f"expected JSON, got {content_type!r}", {}, retry=True)
        try:
            return decode_json(raw)
        except orjson.JSONDecodeError as exc:
            error = MalformedResponse(
                f"{op.operation_id}: unreadable JSON body ({exc}) (request-ref {request_ref})",
                operation=op.operation_id,
            )
            if op.retry_safe:
                raise Retryable(error) from frameless(exc)
            raise error from frameless(exc)

    async def _refuse(
        self, op: Operation, resp: aiohttp.ClientResponse, token: Secret | None, retry: Retry
    ) -> NoReturn:
        """Raise for any status but the operation's success: a typed API error for an error
        status (retryable where that is safe), `MalformedResponse` for anything else below
        400, a redirect included (the API never redirects, and the target would be sent the
        credentials)."""
        status = resp.status
        if status < 400:
            detail = " (redirects are never followed)" if 300 <= status < 400 else ""
            self._malformed(
                op,
                f"answered {status} where the contract promises {op.success}{detail}",
                resp.headers,
                retry=False,
            )
        raw = await resp.content.read(_ERROR_BODY_LIMIT)
        api_error = error_from_response(op.operation_id, status, resp.headers, raw)
        if status == 401 and token is not None:
            raise Refused(api_error, token)
        if status == 429:
            self.stats.rate_limited += 1
            reset = parse_rate_limit_reset(resp.headers)
            wait = reset if reset is not None else 1.0
            # A 429 is a refusal to act: retrying it cannot apply anything twice.
            if retry.adaptive_rate_limit:
                # Every identity and stream of the client waits it out (and, with a shared
                # budget, every process); the retry goes through the budget like any start.
                self.budget.learn(with_margin(parse_rate_limit(resp.headers)), wait)
                raise Retryable(api_error, wait_hint=0.0)
            if retry.max_rate_limit_wait is not None:
                wait = min(wait, retry.max_rate_limit_wait)
            raise Retryable(api_error, wait_hint=wait)
        if status in _RETRY_STATUSES and op.retry_safe:
            raise Retryable(api_error)
        raise api_error

    def _transport_error(self, op: Operation, exc: BaseException) -> TransportError:
        kind = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return TransportError(f"{op.operation_id}: {kind}", operation=op.operation_id)


def decode_json(raw: bytes) -> Any:
    """orjson decode, with the cyclic GC paused for a large body (why: `_gc.gc_paused`; a
    small one makes too few objects for the collector to matter)."""
    if len(raw) < _GC_PAUSE_FROM:
        return orjson.loads(raw)
    with gc_paused():
        return orjson.loads(raw)
