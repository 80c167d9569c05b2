"""The one place where HTTP happens: URLs, headers, retries, rate limits, errors, decoding.

Everything the SDK sends goes through `Transport.send`, so retries, the client-wide
concurrency cap, the rate-limit gate, logging and error mapping exist exactly once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Generator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aiohttp
import attrs
import backoff
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ._operation import Operation, QueryPairs
from ._version import USER_AGENT
from .errors import (
    APIError,
    MalformedResponse,
    RateLimited,
    ServerError,
    TransportError,
    error_class_for,
)
from .models import Secret

__all__ = ["Auth", "RateLimiter", "Response", "Retry", "Transport", "TransportStats"]

log = logging.getLogger("weavr_async")

SANDBOX_URL = "https://sandbox.weavr.io/multi/backoffice"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = USER_AGENT


class Auth(Protocol):
    """Supplies the identity's bearer token and forgets one the API refused."""

    async def token(self) -> Secret: ...

    def invalidate(self, token: Secret) -> bool: ...


@attrs.frozen
class Retry:
    """How failed requests are retried (with `backoff`'s exponential waits, full jitter).

    `max_attempts` counts the first try. A 429's `x-ratelimit-reset` replaces the computed wait,
    capped by `max_rate_limit_wait`. With `adaptive_rate_limit` (the default) a 429 slows the
    whole client down (see `RateLimiter`); without it each request waits out its own 429.
    """

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_rate_limit_wait: float = 60.0
    adaptive_rate_limit: bool = True

    @classmethod
    def disabled(cls) -> Retry:
        return cls(max_attempts=1)


@attrs.define
class TransportStats:
    """Counters a job can report: requests sent, retries, 429s seen, time spent waiting."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    token_refreshes: int = 0
    rate_limit_wait_seconds: float = 0.0


@attrs.frozen
class Response:
    status: int
    data: Any = attrs.field(repr=False)  # an access-token answer carries the token
    request_ref: str | None
    headers: Mapping[str, str] = attrs.field(repr=False)


class _Headers(dict[str, str]):
    """Request headers whose repr hides the credentials, so that not even a traceback that
    renders local variables shows the API key or a bearer token."""

    _SECRET = frozenset({"api-key", "authorization"})

    def __init__(self, *, api_key: Secret, token: Secret | None) -> None:
        super().__init__({"api-key": api_key.reveal(), "accept": "application/json"})
        if token is not None:
            self["authorization"] = f"Bearer {token.reveal()}"

    def __repr__(self) -> str:
        shown = {k: ("**********" if k in self._SECRET else v) for k, v in self.items()}
        return f"_Headers({shown!r})"

    __str__ = __repr__


class _Retryable(Exception):
    """Raised inside one attempt when another may follow; carries the final error to raise."""

    def __init__(self, error: Exception, wait_hint: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait_hint = wait_hint


def parse_rate_limit(headers: Mapping[str, str]) -> tuple[int, float] | None:
    """The limit that was exceeded and its window in seconds, from `x-ratelimit-limit`.

    The header reads like `20, 10;w=60, 20;w=3600`: the exceeded limit first, then every
    limit in force with its window. Without a matching window the limit is taken per second.
    """
    raw = headers.get("x-ratelimit-limit")
    if not raw:
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    try:
        exceeded = int(parts[0].split(";")[0])
    except (IndexError, ValueError):
        return None
    if exceeded <= 0:
        return None
    for part in parts[1:]:
        fields = [f.strip() for f in part.split(";")]
        try:
            limit = int(fields[0])
        except ValueError:
            continue
        for field in fields[1:]:
            if field.startswith("w="):
                try:
                    window = float(field[2:])
                except ValueError:
                    continue
                if limit == exceeded and window > 0:
                    return exceeded, window
    return exceeded, 1.0


class RateLimiter:
    """Client-wide pacing learned from the API's 429s, shared by every identity and stream.

    A 429 closes the gate for its `x-ratelimit-reset` and paces request starts a little below
    the exceeded limit (`x-ratelimit-limit`), so that a burst of tasks queues politely instead
    of each retrying into the next 429. The pace relaxes by a quarter after every
    `RELAX_AFTER_WINDOWS` windows without a 429, until requests flow unpaced: a limit that
    was lifted is noticed, one that was not costs a 429 only now and then.
    """

    MARGIN = 1.1
    RELAX_AFTER_WINDOWS = 8

    def __init__(self, *, adaptive: bool = True) -> None:
        self.adaptive = adaptive
        self._open_at = 0.0
        self._interval = 0.0
        self._next_slot = 0.0
        self._window = 1.0
        self._last_limited = 0.0

    @property
    def interval(self) -> float:
        """Seconds between request starts while paced (0 when unpaced)."""
        return self._interval

    def limited(self, reset: float, limit: tuple[int, float] | None) -> None:
        if not self.adaptive:
            return
        now = time.monotonic()
        self._open_at = max(self._open_at, now + reset)
        self._last_limited = now
        if limit is not None:
            count, window = limit
            self._window = window
            self._interval = max(self._interval, self.MARGIN * window / count)
        else:
            self._interval = max(self._interval * 2, 0.05)

    def succeeded(self) -> None:
        quiet = time.monotonic() - self._last_limited
        if self._interval and quiet > self._window * self.RELAX_AFTER_WINDOWS:
            self._last_limited = time.monotonic()
            self._interval *= 0.75
            if self._interval < 0.001:
                self._interval = 0.0

    async def wait(self) -> float:
        """Wait for this request's turn; returns the seconds waited."""
        if not self.adaptive:
            return 0.0
        now = time.monotonic()
        start = max(now, self._open_at)
        if self._interval:
            start = max(start, self._next_slot)
            self._next_slot = start + self._interval
        delay = start - now
        if delay <= 0:
            return 0.0
        await asyncio.sleep(delay)
        return delay


def join_url(base_url: str, path: str) -> str:
    """Join the base (which has a path of its own, e.g. /multi/backoffice) and an API path."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def parse_rate_limit_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until the throttling window resets, from `x-ratelimit-reset`."""
    raw = headers.get("x-ratelimit-reset")
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def error_from_response(
    op: Operation, status: int, headers: Mapping[str, str], body: bytes
) -> APIError:
    """The typed exception for an error response, with whatever the body says about it."""
    data: Any = None
    if body:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
    error_code = message = None
    validation: list[Mapping[str, Any]] = []
    if isinstance(data, Mapping):
        error_code = _str_or_none(data.get("errorCode")) or _str_or_none(data.get("code"))
        message = _str_or_none(data.get("message"))
        raw_validation = data.get("validationErrors")
        if isinstance(raw_validation, list):
            validation.extend(v for v in raw_validation if isinstance(v, Mapping))
        syntax = data.get("syntaxErrors")
        if isinstance(syntax, Mapping) and isinstance(syntax.get("invalidFields"), list):
            validation.extend(v for v in syntax["invalidFields"] if isinstance(v, Mapping))
    if message is None and data is None and body:
        message = body[:200].decode("utf-8", "replace")
    cls = error_class_for(status)
    kwargs: dict[str, Any] = {
        "error_code": error_code,
        "message": message,
        "validation_errors": validation,
        "request_ref": headers.get("request-ref"),
        "operation": op.operation_id,
        "body": data,
    }
    if cls is RateLimited:
        return RateLimited(status, retry_after=parse_rate_limit_reset(headers), **kwargs)
    return cls(status, **kwargs)


def decode_json(raw: bytes) -> Any:
    """orjson decode with the cyclic GC paused: a 500-entry page allocates thousands of dicts,
    and letting the collector run over and over while they are built (and over every page
    still buffered) cost a third of a walk's time (benchmarks/bench_walk.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(raw)
    finally:
        if enabled:
            gc.enable()


def frameless(exc: BaseException) -> BaseException:
    """`exc`, and every exception it chains, without frames: how a library's exception is
    kept as the cause of the SDK's own. aiohttp's frames hold the request headers in a plain
    dict (API key and bearer token in clear), the decoders' the response body (a token, for
    an access-token answer); a traceback rendered with its locals would show them all. An
    aiohttp response error (a bad status line, say) also keeps the request's headers, which
    its repr shows: they are redacted. Type and message stay."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        if isinstance(current, aiohttp.ClientResponseError):
            info = current.request_info
            hidden = CIMultiDict(
                (k, "**********" if k.lower() in _Headers._SECRET else v)
                for k, v in info.headers.items()
            )
            current.request_info = aiohttp.RequestInfo(
                info.url, info.method, CIMultiDictProxy(hidden), info.real_url
            )
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return exc


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Transport:
    """Sends operations to the API over one shared `aiohttp.ClientSession`."""

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
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.retry = retry
        self.max_concurrency = max_concurrency
        self._ssl = ssl
        self._slots = asyncio.Semaphore(max_concurrency)
        self.rate_limiter = RateLimiter(adaptive=retry.adaptive_rate_limit)
        self.stats = TransportStats()
        self._closed = False

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r}, max_concurrency={self.max_concurrency})"

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this BackOffice client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=max(self.max_concurrency, 10), ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"user-agent": _USER_AGENT}
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def send(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, str] | None = None,
        query: QueryPairs | None = None,
        json_body: Any = None,
        auth: Auth | None = None,
        idempotency_ref: str | None = None,
        decode: bool = True,
    ) -> Response:
        """Send one logical call, retrying as the operation allows; raise typed errors.

        The `idempotency-ref` is fixed here, once per logical call, so every retry repeats it.
        """
        if op.idempotency_ref and idempotency_ref is None:
            idempotency_ref = str(uuid.uuid4())
        body = orjson.dumps(json_body) if json_body is not None else None
        url = join_url(self.base_url, op.render_path(path_params or {}))
        attempt_state = _AttemptState()

        async def attempt() -> Response:
            return await self._attempt(
                op, url, query or [], body, auth, idempotency_ref, decode, attempt_state
            )

        retrying = backoff.on_exception(
            self._wait_gen,
            _Retryable,
            max_tries=self.retry.max_attempts,
            jitter=None,
            on_backoff=self._on_backoff(op),
            logger=None,
        )(attempt)
        try:
            return await retrying()
        except _Retryable as exhausted:
            # The last attempt's underlying failure (a connection error, a JSON error) stays
            # the cause: it is chained to the `_Retryable`, not to the error it carries.
            raise exhausted.error from exhausted.error.__cause__ or exhausted.__cause__

    @asynccontextmanager
    async def stream(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, str],
        query: QueryPairs,
        auth: Auth | None,
        accept: str,
    ) -> AsyncIterator[aiohttp.StreamReader]:
        """Open a response body as a stream (statement downloads): no retry once bytes flow."""
        url = join_url(self.base_url, op.render_path(path_params))
        refreshed = False
        while True:
            token = await auth.token() if auth is not None else None
            headers = self._headers(token, None)
            headers["accept"] = accept
            await self.rate_limiter.wait()
            async with self._slots:
                self.stats.requests += 1
                try:
                    async with self._client().request(
                        op.method,
                        url,
                        params=query,
                        headers=headers,
                        timeout=self._timeout,
                        ssl=self._ssl,
                    ) as resp:
                        if resp.status == 401 and token is not None and not refreshed:
                            refreshed = True
                            self._refresh(auth, token)
                            continue
                        if resp.status >= 400:
                            raise error_from_response(
                                op, resp.status, resp.headers, await resp.read()
                            )
                        yield resp.content
                        return
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise TransportError(
                        f"{op.operation_id}: {type(exc).__name__}: {exc}",
                        operation=op.operation_id,
                    ) from frameless(exc)

    def _headers(self, token: Secret | None, idempotency_ref: str | None) -> _Headers:
        headers = _Headers(api_key=self._api_key, token=token)
        if idempotency_ref is not None:
            headers["idempotency-ref"] = idempotency_ref
        return headers

    def _refresh(self, auth: Auth | None, token: Secret) -> None:
        # Of many requests that met the same 401, only the first forgets the token (and so
        # causes a new one to be requested): only that one counts as a refresh.
        if auth is not None and auth.invalidate(token):
            self.stats.token_refreshes += 1

    async def _attempt(
        self,
        op: Operation,
        url: str,
        query: QueryPairs,
        body: bytes | None,
        auth: Auth | None,
        idempotency_ref: str | None,
        decode: bool,
        state: _AttemptState,
    ) -> Response:
        try:
            token = await auth.token() if auth is not None else None
        except (ServerError, RateLimited, TransportError) as exc:
            # The identity's token could not be had even after the token call's own retries
            # (a 5xx burst, a 429 storm): this operation was never sent, so whatever it is,
            # it may try again within its own budget rather than fail with every other
            # caller that was waiting on the same token request.
            raise _Retryable(exc) from exc
        headers = self._headers(token, idempotency_ref)
        if body is not None:
            headers["content-type"] = "application/json"
        waited = await self.rate_limiter.wait()
        self.stats.rate_limit_wait_seconds += waited
        started = time.monotonic()
        async with self._slots:
            self.stats.requests += 1
            try:
                async with self._client().request(
                    op.method,
                    url,
                    params=query,
                    data=body,
                    headers=headers,
                    timeout=self._timeout,
                    ssl=self._ssl,
                    allow_redirects=False,
                ) as resp:
                    status = resp.status
                    raw = await resp.read()
                    resp_headers = resp.headers
                    content_type = resp.content_type
            except aiohttp.ClientConnectorCertificateError as exc:
                # An untrusted certificate will not become trusted by asking again.
                raise self._transport_error(op, exc) from frameless(exc)
            except aiohttp.ClientConnectorError as exc:
                # Never reached the server: every operation may try again.
                raise _Retryable(self._transport_error(op, exc)) from frameless(exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The request may have reached the server and been applied: only operations
                # that are safe to repeat go again.
                error = self._transport_error(op, exc)
                if op.retry_safe:
                    raise _Retryable(error) from frameless(exc)
                raise error from frameless(exc)
        request_ref = resp_headers.get("request-ref")
        log.debug(
            "%s %s -> %s in %.1f ms (request-ref %s)",
            op.method,
            op.operation_id,
            status,
            (time.monotonic() - started) * 1000,
            request_ref,
        )
        if status == 401 and token is not None and not state.refreshed:
            # The token expired or was revoked: get a new one once, and go again at once.
            state.refreshed = True
            self._refresh(auth, token)
            return await self._attempt(op, url, query, body, auth, idempotency_ref, decode, state)
        if status >= 400:
            api_error = error_from_response(op, status, resp_headers, raw)
            if status == 429:
                self.stats.rate_limited += 1
                reset = parse_rate_limit_reset(resp_headers)
                wait = min(reset if reset is not None else 1.0, self.retry.max_rate_limit_wait)
                self.rate_limiter.limited(wait, parse_rate_limit(resp_headers))
                # A 429 is a refusal to act: retrying it cannot apply anything twice. With the
                # shared limiter the retry queues behind the gate; without it, it waits alone.
                raise _Retryable(api_error, wait_hint=0.0 if self.rate_limiter.adaptive else wait)
            if status in _RETRY_STATUSES and op.retry_safe:
                raise _Retryable(api_error)
            raise api_error
        data: Any = None
        if decode and raw:
            if content_type not in ("application/json", "application/octet-stream", ""):
                error = MalformedResponse(
                    f"{op.operation_id}: expected JSON, got {content_type!r} "
                    f"(request-ref {request_ref})",
                    operation=op.operation_id,
                )
                if op.retry_safe:
                    raise _Retryable(error)
                raise error
            try:
                data = decode_json(raw)
            except orjson.JSONDecodeError as exc:
                error = MalformedResponse(
                    f"{op.operation_id}: unreadable JSON body ({exc}) (request-ref {request_ref})",
                    operation=op.operation_id,
                )
                if op.retry_safe:
                    raise _Retryable(error) from frameless(exc)
                raise error from frameless(exc)
        elif not decode:
            data = raw
        self.rate_limiter.succeeded()
        return Response(status=status, data=data, request_ref=request_ref, headers=resp_headers)

    def _transport_error(self, op: Operation, exc: BaseException) -> TransportError:
        kind = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return TransportError(f"{op.operation_id}: {kind}", operation=op.operation_id)

    def _wait_gen(self) -> Generator[float, Any, None]:
        """`backoff` wait generator: exponential with full jitter, or the API's own hint."""
        expo = backoff.expo(factor=self.retry.base_delay, max_value=self.retry.max_delay)
        next(expo)
        failure = yield 0.0
        while True:
            step = next(expo) or 0.0
            hint = failure.wait_hint if isinstance(failure, _Retryable) else None
            failure = yield hint if hint is not None else random.uniform(0, step)

    def _on_backoff(self, op: Operation) -> Any:
        def record(details: Mapping[str, Any]) -> None:
            self.stats.retries += 1
            exc = details.get("exception")
            reason = exc.error if isinstance(exc, _Retryable) else exc
            log.info(
                "retrying %s (attempt %s) after %.2fs: %s",
                op.operation_id,
                details.get("tries"),
                details.get("wait", 0.0),
                reason,
            )

        return record


@attrs.define
class _AttemptState:
    refreshed: bool = False
