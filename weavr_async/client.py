"""`BackOffice`, the client: it owns the transport and the token store, and hands out one
identity session per identity through which every secured operation runs."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp
import attrs
from yarl import URL

from ._budget import RateBudget
from ._tokens import IdentityAuth, TokenStore
from ._transport import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_DOWNLOAD_SIZE,
    SANDBOX_URL,
    CallOptions,
    Retry,
    Transport,
    TransportStats,
)
from ._wire import check_base_url, check_header_value
from .errors import InvalidRequest
from .models import AccessToken, Identity, Secret
from .resources import (
    AccessTokens,
    Bulks,
    Consumers,
    Corporates,
    Fees,
    Impersonation,
    ManagedAccounts,
    ManagedCards,
    Transfers,
    Users,
)
from .resources._base import Context
from .resources._validators import check_choice, check_identifier

__all__ = ["SANDBOX_URL", "BackOffice", "IdentitySession"]

_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_RESERVED_HEADERS = frozenset(
    {
        "api-key",
        "authorization",
        "idempotency-ref",
        "accept",
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "host",
        "connection",
        "cookie",
        "proxy-authorization",
    }
)
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class BackOffice:
    """The Weavr Multi BackOffice API client.

    One client serves any number of identities and concurrent tasks: it shares one
    `aiohttp.ClientSession` (yours if you pass `session=`, which it then never closes), caps
    requests in flight at `max_concurrency` across all of them, and keeps each identity's
    access token.

    Every request goes to `base_url`, which must be https (plain http is accepted for
    loopback hosts, or anywhere with `allow_insecure_http=True`) and carry no credentials.
    JSON bodies over `max_body_size` bytes and statement files over `max_download_size` are
    refused with `MalformedResponse`. The session the client creates honours `HTTP(S)_PROXY`
    and `NO_PROXY` (`trust_env`, on by default) or an explicit `proxy=`, and takes aiohttp
    `trace_configs`.

    Every request start draws on `budget`, the API's rate limits: by default Weavr's standard
    ones for this client alone (`RateBudget.standard()`: 100 a minute, 1,000 an hour, 10,000
    a day); `RateBudget.redis(...)` shares one budget among every process of a programme, and
    `RateBudget.unlimited()` paces only after a 429 (the simulator, raised limits).
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = SANDBOX_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        retry: Retry | None = None,
        max_concurrency: int = 16,
        page_concurrency: int = 4,
        max_identities: int = 10_000,
        ssl: Any = True,
        allow_insecure_http: bool = False,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_download_size: int = DEFAULT_MAX_DOWNLOAD_SIZE,
        proxy: str | None = None,
        trust_env: bool = True,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise InvalidRequest("api_key", "an API key is required")
        # It goes into the api-key header of every request: a stray newline must fail here,
        # not in aiohttp with the key in its frames.
        check_header_value(api_key, "api_key", max_length=1024)
        base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        for name, size in (
            ("max_body_size", max_body_size),
            ("max_download_size", max_download_size),
        ):
            if not isinstance(size, int) or isinstance(size, bool) or size < 1024:
                raise InvalidRequest(name, "must be an integer of at least 1024 bytes")
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise InvalidRequest("max_concurrency", "must be a positive integer")
        if not isinstance(page_concurrency, int) or page_concurrency < 1:
            raise InvalidRequest("page_concurrency", "must be a positive integer")
        if budget is not None and not isinstance(budget, RateBudget):
            raise InvalidRequest("budget", "expected a RateBudget (RateBudget.standard(), ...)")
        if session is not None and trace_configs is not None:
            raise InvalidRequest("trace_configs", "give them to the session you pass instead")
        self._api_key = Secret(api_key)
        self._options = CallOptions(_timeout(timeout), _retry(retry))
        self._transport = Transport(
            api_key=self._api_key,
            base_url=base_url,
            session=session,
            timeout=self._options.timeout,
            retry=self._options.retry,
            max_concurrency=max_concurrency,
            ssl=ssl,
            max_body_size=max_body_size,
            max_download_size=max_download_size,
            proxy=_proxy(proxy),
            trust_env=bool(trust_env),
            trace_configs=trace_configs,
            budget=budget if budget is not None else RateBudget.standard(),
        )
        self._owns_budget = budget is None
        self._owner = True
        self._page_concurrency = page_concurrency
        self._tokens = TokenStore(self._fetch_token, max_identities=max_identities)
        self._token_source = AccessTokens(self._context(None))
        self.access_tokens = self._token_source

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> BackOffice:
        """A client configured from the environment: the API key from `WEAVR_API_KEY`, the
        base URL from `WEAVR_BASE_URL` (else the sandbox), and `WEAVR_LOG=debug|info|warning`
        sends the `weavr_async` logger's records to stderr (secrets are never logged).
        Keyword arguments are passed on and win over the environment."""
        env = os.environ if environ is None else environ
        if "api_key" not in kwargs:
            key = env.get("WEAVR_API_KEY", "").strip()
            if not key:
                raise InvalidRequest("WEAVR_API_KEY", "is not set: export your API key")
            kwargs["api_key"] = key
        base_url = env.get("WEAVR_BASE_URL", "").strip()
        if base_url and "base_url" not in kwargs:
            kwargs["base_url"] = base_url
        level = env.get("WEAVR_LOG", "").strip().lower()
        if level:
            configure_logging(level)
        return cls(**kwargs)

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retry: Retry | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> BackOffice:
        """A view of this client whose calls use other options: it shares the connection
        pool, the tokens, the concurrency cap, the rate limits and the statistics, costs
        nothing to make, and closing it closes nothing (the client it came from owns all).

        `headers` are added to every request of the view (not one the SDK sets itself)."""
        options = self._options
        if timeout is not None:
            options = attrs.evolve(options, timeout=_timeout(timeout))
        if retry is not None:
            options = attrs.evolve(options, retry=_retry(retry))
        if headers is not None:
            options = attrs.evolve(options, headers=_extra_headers(headers))
        view = object.__new__(BackOffice)
        view.__dict__.update(self.__dict__)
        view._options = options
        view._owner = False
        view.access_tokens = AccessTokens(view._context(None))
        return view

    def _context(self, auth: IdentityAuth | None) -> Context:
        return Context(self._transport, auth, self._page_concurrency, self._options)

    def __repr__(self) -> str:
        transport = getattr(self, "_transport", None)  # None while __init__ refuses arguments
        if transport is None:
            return "BackOffice(<not constructed>)"
        return (
            f"BackOffice(base_url={transport.base_url!r}, "
            f"max_concurrency={transport.max_concurrency}, identities={len(self._tokens)})"
        )

    async def _fetch_token(self, identity: Identity) -> Secret:
        return (await self._token_source._create_once(identity)).token

    def identity(self, identity: Identity) -> IdentitySession:
        """The session acting for `identity` (no I/O: its token is obtained on first use)."""
        if not isinstance(identity, Identity):
            raise InvalidRequest("identity", "expected Identity.corporate(...) or .consumer(...)")
        check_choice(identity.type, "identity.type", ("CORPORATE", "CONSUMER"))
        check_identifier(identity.id, "identity.id")
        return IdentitySession(identity, self._context(IdentityAuth(self._tokens, identity)))

    @property
    def budget(self) -> RateBudget:
        """The rate budget every request of this client draws on: `budget.snapshot()` (or
        `await budget.status()`) tells what is left per window, `budget.time_for(n)` how long
        n more requests take."""
        return self._transport.budget

    @property
    def stats(self) -> TransportStats:
        """Requests, retries, 429s and token refreshes so far."""
        return self._transport.stats

    @property
    def token_requests(self) -> int:
        return self._tokens.requests

    async def close(self) -> None:
        """Close the client (a view made by `with_options` closes nothing)."""
        if not self._owner:
            return
        await self._tokens.close()
        await self._transport.close()
        if self._owns_budget:
            await self._transport.budget.aclose()

    async def __aenter__(self) -> BackOffice:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def configure_logging(level: str) -> None:
    """Send the `weavr_async` logger's records at `level` (debug, info, warning) to stderr,
    once; what it logs never holds a key or a token."""
    value = _LOG_LEVELS.get(level)
    if value is None:
        raise InvalidRequest("WEAVR_LOG", f"must be one of {', '.join(_LOG_LEVELS)}")
    logger = logging.getLogger("weavr_async")
    logger.setLevel(value)
    if not any(getattr(h, "_weavr_async", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._weavr_async = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def _timeout(value: object) -> float:
    if not (
        isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf")
    ):
        raise InvalidRequest("timeout", "must be a positive number of seconds")
    return float(value)


def _retry(value: object) -> Retry:
    if value is None:
        return Retry()
    if not isinstance(value, Retry):
        raise InvalidRequest("retry", "expected a Retry")
    return value


def _proxy(value: object) -> str | None:
    """An http(s) proxy URL; its credentials, if any, are aiohttp's to send to the proxy."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest("proxy", "expected an http(s) URL")
    try:
        url = URL(value)
    except ValueError as exc:
        raise InvalidRequest("proxy", "is not a URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidRequest("proxy", "expected an http(s) URL with a host")
    return value


def _extra_headers(headers: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(headers, Mapping):
        raise InvalidRequest("headers", "expected a mapping of header names to values")
    if len(headers) > 32:
        raise InvalidRequest("headers", "at most 32 extra headers")
    checked: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidRequest("headers", "names must be letters, digits and '-'")
        if name.lower() in _RESERVED_HEADERS:
            raise InvalidRequest(f"headers.{name}", "is set by the SDK itself")
        checked.append(
            (name, check_header_value(value, f"headers.{name}", max_length=1024, allow_space=True))
        )
    return tuple(checked)


class IdentitySession:
    """Every secured operation, acting for one identity: resources named after the API's tags."""

    def __init__(self, identity: Identity, context: Context) -> None:
        self.identity = identity
        self._context = context
        self.managed_accounts = ManagedAccounts(context)
        self.managed_cards = ManagedCards(context)
        self.transfers = Transfers(context)
        self.users = Users(context)
        self.fees = Fees(context)
        self.bulks = Bulks(context)
        self.corporates = Corporates(context)
        self.consumers = Consumers(context)
        self._impersonation = Impersonation(context)

    def __repr__(self) -> str:
        return f"IdentitySession({self.identity.type} {self.identity.id})"

    async def impersonate_identity_login(self, identity: Identity | None = None) -> AccessToken:
        """Deprecated by the API: a token for `identity` (default: this session's)."""
        return await self._impersonation.login(identity or self.identity)
