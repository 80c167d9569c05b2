"""Per-walk request counts for one shared client, taken client-side.

The client only keeps client-wide counters, but every page request of a walk runs in a task
spawned from the walk's own task, so a context variable set by the walk tags each attempt that
aiohttp's tracing hooks see. Attempts beyond the walk's logical page requests are its retries.
"""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from types import SimpleNamespace

import aiohttp

__all__ = ["RequestTally"]

_WALK: ContextVar[str | None] = ContextVar("weavr_async_cli_walk", default=None)


class RequestTally:
    """Counts HTTP attempts and 429 answers per walk name (token requests apart)."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    @staticmethod
    def tag(walk: str) -> None:
        """Attribute the current task's requests (and those of tasks it spawns) to `walk`."""
        _WALK.set(walk)

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_request_start.append(self._on_start)
        config.on_request_end.append(self._on_end)
        return config

    @staticmethod
    def _walk_of(url: object) -> str | None:
        walk = _WALK.get()
        if walk is None or str(url).endswith("/access_token"):
            return None
        return walk

    async def _on_start(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        walk = self._walk_of(params.url)
        if walk is not None:
            self.attempts[walk] += 1

    async def _on_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        walk = self._walk_of(params.url)
        if walk is not None and params.response.status == 429:
            self.throttled[walk] += 1
