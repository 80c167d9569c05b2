"""The arithmetic of the API budget, without I/O: sliding-window logs, plans, clamps.

A window `(limit, seconds)` keeps the times of its newest `limit` request starts; one more may
start at `t` when the oldest of them is at least `seconds` before `t`. Every comparison is
written `start + seconds <= t`, so a time computed as `start + seconds` is never judged a
hair too early by float rounding.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

import attrs

from .errors import InvalidRequest

__all__ = [
    "MAX_IMPOSED_SECONDS",
    "MAX_LEARNED_WINDOWS",
    "STANDARD_LIMITS",
    "Limit",
    "Window",
    "WindowState",
    "check_max_wait",
    "clamped_limit",
    "clamped_seconds",
    "implies",
    "plan",
    "validated_limits",
]

Limit = tuple[int, float]
"""(requests, window seconds)."""

STANDARD_LIMITS: tuple[Limit, ...] = ((100, 60.0), (1_000, 3_600.0), (10_000, 86_400.0))
"""Weavr's documented standard limits per programme: 100/minute, 1,000/hour, 10,000/day."""

MAX_IMPOSED_SECONDS = 86_400.0
"""The most a server's 429 can impose: the gate it closes (`x-ratelimit-reset`) and the window
it teaches (`x-ratelimit-limit`'s `w=`) are clamped to a day, Weavr's longest window, so a
broken or hostile header (`1, 1;w=1000000`) cannot hang a client for longer than that."""

MIN_LEARNED_RATE = 10_000 / 86_400.0
"""The slowest pace (requests a second) a 429 can teach: Weavr's standard daily window. The
API documents its limits as raised on request, never lowered, so a header that claims less
(`1, 1;w=86400`: one request a day) is not believed below this."""

MAX_LEARNED_WINDOWS = 4
"""Windows learned from 429s beyond the configured ones; the oldest learned is dropped first."""


@attrs.frozen
class WindowState:
    """One window of a budget, now: `used` starts in the last `seconds`, `remaining` of
    `limit`, and `resets_in` seconds until a slot frees (0 while `remaining` > 0)."""

    limit: int
    seconds: float
    used: int
    remaining: int
    resets_in: float


class Window:
    """One window's sliding log: the newest starts, oldest first, never more than `limit`."""

    __slots__ = ("learned", "limit", "seconds", "starts")

    def __init__(
        self, limit: int, seconds: float, *, learned: bool = False, starts: Iterable[float] = ()
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self.learned = learned
        self.starts: deque[float] = deque(starts, maxlen=limit)

    @property
    def pair(self) -> Limit:
        return (self.limit, self.seconds)

    def free_at(self) -> float:
        """When one more start fits (-inf: now). Written `start + seconds <= t` everywhere, so
        that a time computed here is never judged a hair too early by the float arithmetic."""
        if len(self.starts) < self.limit:
            return -math.inf
        return self.starts[0] + self.seconds

    def trim(self, now: float) -> None:
        while self.starts and self.starts[0] + self.seconds <= now:
            self.starts.popleft()

    def state(self, now: float) -> WindowState:
        self.trim(now)
        used = len(self.starts)
        resets_in = 0.0 if used < self.limit else max(0.0, self.free_at() - now)
        return WindowState(self.limit, self.seconds, used, self.limit - used, resets_in)


class _Run:
    """A window's log compressed to (time, count) runs, for planning many starts ahead."""

    __slots__ = ("limit", "pair", "runs", "seconds", "total")

    def __init__(self, window: Window) -> None:
        self.limit, self.seconds, self.pair = window.limit, window.seconds, window.pair
        self.runs: deque[list[float]] = deque()
        self.total = 0
        for start in window.starts:
            self.add(start, 1)

    def free_at(self) -> float:
        return self.runs[0][0] + self.seconds if self.total >= self.limit else -math.inf

    def room(self, t: float) -> int:
        while self.runs and self.runs[0][0] + self.seconds <= t:
            self.total -= int(self.runs.popleft()[1])
        return self.limit - self.total

    def add(self, t: float, count: int) -> None:
        if self.runs and self.runs[-1][0] == t:
            self.runs[-1][1] += count
        else:
            self.runs.append([t, count])
        self.total += count
        while self.total > self.limit:  # only the newest `limit` starts can ever matter
            excess = self.total - self.limit
            oldest = self.runs[0]
            if oldest[1] <= excess:
                self.total -= int(self.runs.popleft()[1])
            else:
                oldest[1] -= excess
                self.total -= excess


def plan(
    windows: Sequence[Window], requests: int, now: float, gate: float, gate_window: Limit | None
) -> tuple[float, Limit | None]:
    """When the last of `requests` more starts could be, from now, and the window that sets
    that time (`gate_window` if it is the gate closed until `gate`; None if now). Simulated
    burst by burst: at each moment as many start as every window has room for, then the
    clock moves to the moment the fullest window frees a slot, so a plan costs one step per
    burst, not per request."""
    if requests <= 0:
        return 0.0, None
    t, window = now, None
    if gate > now:
        t, window = gate, gate_window
    runs = [_Run(w) for w in windows]
    left = requests
    while left > 0:
        for run in runs:
            if run.free_at() > t:
                t, window = run.free_at(), run.pair
        batch = min([left, *(run.room(t) for run in runs)])
        # `free_at` and `room` share the comparison `start + seconds <= t`, so at `t` every
        # window has room for at least one: each step starts some, and the loop ends.
        assert batch > 0
        for run in runs:
            run.add(t, batch)
        left -= batch
    return t - now, window


def implies(strict: Window, other: Window) -> bool:
    """At most `strict.limit` per `strict.seconds` already keeps `other`."""
    return strict.seconds >= other.seconds and strict.limit <= other.limit


def validated_limits(limits: Sequence[Limit]) -> list[Limit]:
    if isinstance(limits, str | bytes) or not isinstance(limits, Sequence) or not limits:
        raise InvalidRequest("limits", "must be a non-empty sequence of (requests, seconds)")
    checked: list[Limit] = []
    for pair in limits:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidRequest("limits", f"each limit is (requests, seconds), got {pair!r}")
        count, seconds = pair
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidRequest("limits", f"requests must be an integer >= 1, got {count!r}")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise InvalidRequest("limits", f"seconds must be finite and > 0, got {seconds!r}")
        if any(s == seconds for _, s in checked):
            raise InvalidRequest("limits", f"two limits for the same {seconds:g} s window")
        checked.append((count, float(seconds)))
    return checked


def check_max_wait(max_wait: float | None) -> None:
    if max_wait is None:
        return
    if isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or not max_wait >= 0:
        raise InvalidRequest("max_wait", f"must be >= 0 seconds or None, got {max_wait!r}")


def clamped_seconds(value: float | None) -> float | None:
    """A server-sent duration, clamped to [0, MAX_IMPOSED_SECONDS]; None if unusable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return min(float(value), MAX_IMPOSED_SECONDS)


def clamped_limit(limit: Limit | None) -> Limit | None:
    """A server-sent (requests, seconds), clamped: at most a day, and at least as many
    requests as `MIN_LEARNED_RATE` allows in that time (at least 1)."""
    if limit is None:
        return None
    try:
        count, seconds = limit
    except (TypeError, ValueError):
        return None
    clamped = clamped_seconds(seconds)
    if clamped is None or clamped <= 0 or isinstance(count, bool):
        return None
    if not isinstance(count, int | float) or not math.isfinite(count):
        return None
    floor = math.ceil(clamped * MIN_LEARNED_RATE - 1e-9)
    return (max(1, floor, int(count)), clamped)
