"""Per-identity access tokens: a bounded cache, one request however many ask, refresh on 401."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from .models import Identity, Secret

__all__ = ["IdentityAuth", "TokenStore"]

TokenFetcher = Callable[[Identity], Awaitable[Secret]]


class TokenStore:
    """Caches one token per identity (least recently used evicted past `max_identities`).

    The first caller for an identity starts the token request in a task of its own; every
    concurrent caller awaits that same task, so N tasks cost one `POST /access_token`, and a
    caller that is cancelled does not cancel the request for the others.
    """

    def __init__(self, fetch: TokenFetcher, *, max_identities: int = 10_000) -> None:
        if max_identities < 1:
            raise ValueError("max_identities must be at least 1")
        self._fetch = fetch
        self._max = max_identities
        self._tokens: OrderedDict[Identity, Secret] = OrderedDict()
        self._pending: dict[Identity, asyncio.Task[Secret]] = {}
        self.requests = 0

    def __repr__(self) -> str:
        return f"TokenStore(cached={len(self._tokens)}, max_identities={self._max})"

    def __len__(self) -> int:
        return len(self._tokens)

    def cached(self, identity: Identity) -> Secret | None:
        """The identity's token if it is cached (and now the most recently used), else None."""
        cached = self._tokens.get(identity)
        if cached is not None:
            self._tokens.move_to_end(identity)
        return cached

    async def token(self, identity: Identity) -> Secret:
        cached = self.cached(identity)
        if cached is not None:
            return cached
        task = self._pending.get(identity)
        if task is None:
            task = asyncio.create_task(self._obtain(identity), name="weavr-access-token")
            task.add_done_callback(_retrieve_exception)
            self._pending[identity] = task
        return await asyncio.shield(task)

    async def _obtain(self, identity: Identity) -> Secret:
        try:
            self.requests += 1
            token = await self._fetch(identity)
            self._tokens[identity] = token
            self._tokens.move_to_end(identity)
            while len(self._tokens) > self._max:
                self._tokens.popitem(last=False)
            return token
        finally:
            self._pending.pop(identity, None)

    def invalidate(self, identity: Identity, token: Secret) -> bool:
        """Forget `token` if it is still the cached one (and say so): of many tasks that saw
        the same 401, only the first causes a new token request, the rest reuse its result."""
        cached = self._tokens.get(identity)
        if cached is not None and cached == token:
            del self._tokens[identity]
            return True
        return False

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        self._tokens.clear()


def _retrieve_exception(task: asyncio.Task[Secret]) -> None:
    # Every waiter may have been cancelled; the failure is still reported to the next caller.
    if not task.cancelled():
        task.exception()


class IdentityAuth:
    """The transport's view of one identity's token (the `Auth` protocol)."""

    __slots__ = ("_identity", "_store")

    def __init__(self, store: TokenStore, identity: Identity) -> None:
        self._store = store
        self._identity = identity

    def __repr__(self) -> str:
        return f"IdentityAuth({self._identity!r})"

    @property
    def identity(self) -> Identity:
        return self._identity

    async def token(self) -> Secret:
        return await self._store.token(self._identity)

    def cached(self) -> Secret | None:
        return self._store.cached(self._identity)

    def invalidate(self, token: Secret) -> bool:
        return self._store.invalidate(self._identity, token)
