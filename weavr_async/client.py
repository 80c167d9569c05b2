"""`BackOffice`, the client: it owns the transport and the token store, and hands out one
identity session per identity through which every secured operation runs."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp

from ._tokens import IdentityAuth, TokenStore
from ._transport import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_DOWNLOAD_SIZE,
    SANDBOX_URL,
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
from .resources._base import Context, choice, identifier

__all__ = ["SANDBOX_URL", "BackOffice", "IdentitySession"]


class BackOffice:
    """The Weavr Multi BackOffice API client.

    One client serves any number of identities and concurrent tasks: it shares one
    `aiohttp.ClientSession` (yours if you pass `session=`, which it then never closes), caps
    requests in flight at `max_concurrency` across all of them, and keeps each identity's
    access token.

    Every request goes to `base_url`, which must be https (plain http is accepted for
    loopback hosts, or anywhere with `allow_insecure_http=True`) and carry no credentials.
    JSON bodies over `max_body_size` bytes and statement files over `max_download_size` are
    refused with `MalformedResponse`.
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
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise InvalidRequest("api_key", "an API key is required")
        # It goes into the api-key header of every request: a stray newline must fail here,
        # not in aiohttp with the key in its frames.
        check_header_value(api_key, "api_key", max_length=1024)
        base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        if not (
            isinstance(timeout, int | float)
            and not isinstance(timeout, bool)
            and 0 < timeout < float("inf")
        ):
            raise InvalidRequest("timeout", "must be a positive number of seconds")
        if retry is not None and not isinstance(retry, Retry):
            raise InvalidRequest("retry", "expected a Retry")
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
        self._api_key = Secret(api_key)
        self._transport = Transport(
            api_key=self._api_key,
            base_url=base_url,
            session=session,
            timeout=float(timeout),
            retry=retry if retry is not None else Retry(),
            max_concurrency=max_concurrency,
            ssl=ssl,
            max_body_size=max_body_size,
            max_download_size=max_download_size,
        )
        self._unsecured = Context(self._transport, None, page_concurrency)
        self.access_tokens = AccessTokens(self._unsecured)
        self._tokens = TokenStore(self._fetch_token, max_identities=max_identities)
        self._page_concurrency = page_concurrency

    def __repr__(self) -> str:
        transport = getattr(self, "_transport", None)  # None while __init__ refuses arguments
        if transport is None:
            return "BackOffice(<not constructed>)"
        return (
            f"BackOffice(base_url={transport.base_url!r}, "
            f"max_concurrency={transport.max_concurrency}, identities={len(self._tokens)})"
        )

    async def _fetch_token(self, identity: Identity) -> Secret:
        return (await self.access_tokens._create_once(identity)).token

    def identity(self, identity: Identity) -> IdentitySession:
        """The session acting for `identity` (no I/O: its token is obtained on first use)."""
        if not isinstance(identity, Identity):
            raise InvalidRequest("identity", "expected Identity.corporate(...) or .consumer(...)")
        choice(identity.type, "identity.type", ("CORPORATE", "CONSUMER"))
        identifier(identity.id, "identity.id")
        auth = IdentityAuth(self._tokens, identity)
        return IdentitySession(identity, Context(self._transport, auth, self._page_concurrency))

    @property
    def stats(self) -> TransportStats:
        """Requests, retries, 429s and token refreshes so far."""
        return self._transport.stats

    @property
    def token_requests(self) -> int:
        return self._tokens.requests

    async def close(self) -> None:
        await self._tokens.close()
        await self._transport.close()

    async def __aenter__(self) -> BackOffice:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


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
