"""The simulator's rate limiter: fixed windows, as the API counts requests per API key."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

__all__ = ["RateLimitHeaders", "RateLimiter"]

RateLimitHeaders = tuple[str, str]
"""The ``x-ratelimit-limit`` and ``x-ratelimit-reset`` values of a 429."""


class _Window:
    """One fixed window."""

    __slots__ = ("count", "limit", "seconds", "start")

    def __init__(self, limit: int, seconds: float, start: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.start = start
        self.count = 0


class RateLimiter:
    """Admits a request only if every window has room, and then counts it in all of them."""

    def __init__(self) -> None:
        self._windows: list[_Window] = []

    def set_limits(self, limits: Sequence[tuple[int, float]] | None) -> None:
        """(requests, window seconds) pairs, each window starting now; None: no limit."""
        windows = []
        for limit, window in limits or ():
            if limit < 0:
                raise ValueError("limit must be >= 0")
            if not window > 0:
                raise ValueError("window must be > 0")
            windows.append(_Window(limit, window, time.monotonic()))
        self._windows = windows

    def admit(self) -> RateLimitHeaders | None:
        """None when the request is admitted (and counted); else the 429's header values."""
        windows = self._windows
        if not windows:
            return None
        now = time.monotonic()
        for window in windows:
            if now - window.start >= window.seconds:
                window.start, window.count = now, 0
        full = [window for window in windows if window.count >= window.limit]
        if not full:
            for window in windows:
                window.count += 1
            return None
        # The window that stays full longest is the one the client must wait out.
        exceeded = max(full, key=lambda window: window.start + window.seconds)
        reset = max(1, math.ceil(exceeded.start + exceeded.seconds - now))
        every = ", ".join(f"{window.limit};w={_seconds(window.seconds)}" for window in windows)
        return f"{exceeded.limit}, {every}", str(reset)


def _seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
