"""The API budget: how many requests may start per window, for every caller of one API key.

Weavr counts requests per programme in several windows at once (by default 100 a minute,
1,000 an hour, 10,000 a day) and answers 429 until an exceeded window is over, which can be
an hour. A `RateBudget` paces request starts so that no window is ever exceeded: it keeps,
per window, the times of the newest `limit` starts (a sliding-window log) and lets a request
start only when at most `limit - 1` others started in the `seconds` before it. That holds in
every interval of that length, so it is safe whether the API counts fixed or sliding windows.

The in-process budget here serves one process; `RateBudget.redis` (in `_budget_redis`)
serves every process of a programme through one Redis.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from .errors import BudgetExhausted, InvalidRequest

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "MAX_IMPOSED_SECONDS",
    "MAX_LEARNED_WINDOWS",
    "STANDARD_LIMITS",
    "Limit",
    "RateBudget",
    "WindowState",
]

Limit = tuple[int, float]
"""(requests, window seconds)."""

STANDARD_LIMITS: tuple[Limit, ...] = ((100, 60.0), (1_000, 3_600.0), (10_000, 86_400.0))
"""Weavr's documented standard limits per programme: 100/minute, 1,000/hour, 10,000/day."""

MAX_IMPOSED_SECONDS = 86_400.0
"""The most a server's 429 can impose: the gate it closes (`x-ratelimit-reset`) and the window
it teaches (`x-ratelimit-limit`'s `w=`) are clamped to a day, Weavr's longest window, so a
broken or hostile header (`1, 1;w=1000000`) cannot hang a client for longer than that."""

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


class _Window:
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


class _Plan:
    """A window's log compressed to (time, count) runs, for planning many starts ahead."""

    __slots__ = ("limit", "pair", "runs", "seconds", "total")

    def __init__(self, window: _Window) -> None:
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


class RateBudget:
    """Paces request starts within every window of the API's budget (see the module).

    `acquire` waits until a request may start and records it, first come first served;
    `learn` takes in what a 429 said; `share` gives a background job a capped slice;
    `status` and `time_for` say what is left and how long more requests will take.
    Timestamps come from `clock` (monotonic seconds); tests may pass their own.
    """

    def __init__(
        self, limits: Sequence[Limit], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._setup([_Window(n, w) for n, w in _validated(limits)], clock, None)

    def _setup(
        self, windows: list[_Window], clock: Callable[[], float], parent: RateBudget | None
    ) -> None:
        self._windows = windows
        self._clock = clock
        self._parent = parent
        self._gate = -math.inf  # closed until then by a 429 (only a root budget has one)
        self._gate_window: Limit | None = None
        self._queue: deque[asyncio.Future[None]] = deque()
        self._busy = False

    @classmethod
    def standard(cls) -> RateBudget:
        """Weavr's standard budget: 100 requests a minute, 1,000 an hour, 10,000 a day."""
        return cls(STANDARD_LIMITS)

    @classmethod
    def redis(
        cls,
        url: str,
        *,
        limits: Sequence[Limit] = STANDARD_LIMITS,
        key: str,
        client: Redis | None = None,
    ) -> RateBudget:
        """A budget that every process using `url` and `key` shares (`redis://`, `rediss://`
        or `unix://`); `client` reuses a `redis.asyncio.Redis` of the caller's, which then
        stays the caller's to close. Needs the `distributed` extra."""
        try:
            from ._budget_redis import RedisRateBudget
        except ImportError as exc:
            if (exc.name or "").partition(".")[0] != "redis":
                raise
            missing = exc
        else:
            return RedisRateBudget(url, limits=limits, key=key, client=client)
        raise ImportError(
            "RateBudget.redis needs the redis package: pip install 'weavr-async[distributed]'",
            name=missing.name,
        )

    @property
    def limits(self) -> tuple[Limit, ...]:
        """This budget's own windows, learned ones included (a share: its capped slices)."""
        return tuple(w.pair for w in self._windows)

    def __repr__(self) -> str:
        own = f"{type(self).__name__}({list(self.limits)!r})"
        return own if self._parent is None else f"{own} sharing {self._parent!r}"

    # -- pacing

    async def acquire(self, *, max_wait: float | None = None) -> float:
        """Wait until one request may start without exceeding any window, record its start
        and return the seconds waited. Callers are served in the order they came.

        Raises `BudgetExhausted` at once, without waiting, when the start would come more
        than `max_wait` seconds from now (its place in the queue counted).
        """
        _check_max_wait(max_wait)
        began = self._clock()
        if max_wait is not None:
            needed, window = self._plan(len(self._queue) + self._busy + 1, began)
            if needed > max_wait:
                raise self._exhausted(needed, window)
        try:
            paused = await self._take_turn(None if max_wait is None else began + max_wait)
        except TimeoutError:  # those ahead took longer than the plan said
            needed, window = self._plan(len(self._queue) + self._busy + 1, self._clock())
            raise self._exhausted(needed, window) from None
        try:
            while True:
                wait, window = await self._try_start()
                if wait <= 0:
                    return self._clock() - began if paused else 0.0
                if max_wait is not None and self._clock() - began + wait > max_wait:
                    raise self._exhausted(wait, window)
                await asyncio.sleep(wait)
                paused = True
        finally:
            self._release_turn()

    async def _try_start(self) -> tuple[float, Limit | None]:
        """Record a start now if every window has room (0, None), else the seconds until one
        fits and the window (None: the gate) that holds it."""
        now = self._clock()
        wait, window = self._wait(now)
        if wait <= 0:
            self._record(now)
        return wait, window

    def learn(self, limit: Limit | None, reset: float | None) -> None:
        """Take in a 429: close the gate for `reset` seconds (`x-ratelimit-reset`) and, when
        the exceeded `limit` (`x-ratelimit-limit`: requests, seconds) is tighter than every
        known window, pace below it from now on. Both are clamped to `MAX_IMPOSED_SECONDS`;
        NaN, infinite and negative values are ignored. A share passes it to its parent."""
        if self._parent is not None:
            self._parent.learn(limit, reset)
            return
        learned = _clamped_limit(limit)
        seconds = _clamped_seconds(reset)
        if seconds is not None and seconds > 0:
            until = self._clock() + seconds
            if until > self._gate:
                self._gate, self._gate_window = until, learned
        if learned is not None:
            self._tighten(*learned)

    def share(self, fraction: float) -> RateBudget:
        """A view for a background job: at most `floor(fraction * limit)` (at least 1) of every
        window, drawn from this budget too, so its other callers keep the rest."""
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise InvalidRequest("fraction", f"must be a number in (0, 1], got {fraction!r}")
        if not 0 < fraction <= 1:
            raise InvalidRequest("fraction", f"must be in (0, 1], got {fraction!r}")
        capped = [_Window(max(1, math.floor(fraction * w.limit)), w.seconds) for w in self._windows]
        return self._view(capped, fraction)

    def _view(self, windows: list[_Window], fraction: float) -> RateBudget:
        view = object.__new__(type(self))
        view._setup(windows, self._clock, self)
        return view

    # -- what is left

    async def status(self) -> list[WindowState]:
        """Every window that binds this budget, now: its own, then (for a share) its
        parent's. A gate closed by a 429 shows in `time_for(1)`, not here."""
        return self.snapshot()

    def snapshot(self) -> list[WindowState]:
        """`status()` without I/O: exact here; a shared budget answers with what this
        process saw last."""
        now = self._clock()
        return [w.state(now) for w in self._chain_windows()]

    def time_for(self, requests: int) -> float:
        """Seconds until the last of `requests` more requests may start, from the budget's
        state now (the first starts at once if there is room): a plan, not a reservation."""
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
            raise InvalidRequest("requests", f"must be an integer >= 0, got {requests!r}")
        return self._plan(requests, self._clock())[0]

    async def aclose(self) -> None:
        """Release what the budget holds (a shared budget: its own Redis connections)."""

    # -- internals

    def _root(self) -> RateBudget:
        budget = self
        while budget._parent is not None:
            budget = budget._parent
        return budget

    def _chain_windows(self) -> list[_Window]:
        windows: list[_Window] = []
        budget: RateBudget | None = self
        while budget is not None:
            windows.extend(budget._windows)
            budget = budget._parent
        return windows

    def _wait(self, now: float) -> tuple[float, Limit | None]:
        """Seconds until a start fits every window and the gate, and what holds it."""
        root = self._root()
        wait, window = root._gate - now, root._gate_window
        for w in self._chain_windows():
            if w.free_at() - now > wait:
                wait, window = w.free_at() - now, w.pair
        return wait, window

    def _record(self, now: float) -> None:
        for w in self._chain_windows():
            w.starts.append(now)

    def _plan(self, requests: int, now: float) -> tuple[float, Limit | None]:
        """When the last of `requests` starts could be, simulating them burst by burst: at
        each moment as many start as every window has room for, then the clock moves to the
        moment the fullest window frees a slot."""
        if requests <= 0:
            return 0.0, None
        root = self._root()
        t, window = now, None
        if root._gate > now:
            t, window = root._gate, root._gate_window
        plans = [_Plan(w) for w in self._chain_windows()]
        left = requests
        while left > 0:
            for plan in plans:
                if plan.free_at() > t:
                    t, window = plan.free_at(), plan.pair
            batch = min([left, *(plan.room(t) for plan in plans)])
            # `free_at` and `room` share the comparison `start + seconds <= t`, so at `t`
            # every window has room for at least one.
            assert batch > 0
            for plan in plans:
                plan.add(t, batch)
            left -= batch
        return t - now, window

    def _exhausted(self, wait: float, window: Limit | None) -> BudgetExhausted:
        return BudgetExhausted(retry_after=wait, available_at=time.time() + wait, window=window)

    def _tighten(self, limit: int, seconds: float) -> None:
        """Pace below a limit a 429 taught, unless a known window already implies it."""
        if any(w.seconds >= seconds and w.limit <= limit for w in self._windows):
            return
        newest = max(self._windows, key=lambda w: w.limit).starts
        # Tightening a configured window keeps it configured: only learned ones are dropped.
        configured = any(w.seconds == seconds and not w.learned for w in self._windows)
        replacement = _Window(limit, seconds, learned=not configured, starts=newest)
        kept = [
            w
            for w in self._windows
            if w.seconds != seconds and not (w.learned and _implies(replacement, w))
        ]
        learned = [w for w in kept if w.learned]
        if len(learned) >= MAX_LEARNED_WINDOWS:
            kept.remove(learned[0])
        self._windows = [*kept, replacement]

    async def _take_turn(self, deadline: float | None) -> bool:
        """First come, first served: one caller at a time waits for the windows. True if
        this caller had to queue; TimeoutError if its turn had not come by `deadline`."""
        if not self._busy and not self._queue:
            self._busy = True
            return False
        turn = asyncio.get_running_loop().create_future()
        self._queue.append(turn)
        try:
            if deadline is None:
                await turn
            else:
                async with asyncio.timeout(max(0.0, deadline - self._clock())):
                    await turn
        except (asyncio.CancelledError, TimeoutError):
            if not turn.cancelled():  # handed the turn as it gave up: pass it on
                self._release_turn()
            elif turn in self._queue:
                self._queue.remove(turn)
            raise
        return True

    def _release_turn(self) -> None:
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._busy = False


def _implies(strict: _Window, other: _Window) -> bool:
    """At most `strict.limit` per `strict.seconds` already keeps `other`."""
    return strict.seconds >= other.seconds and strict.limit <= other.limit


def _validated(limits: Sequence[Limit]) -> list[Limit]:
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


def _check_max_wait(max_wait: float | None) -> None:
    if max_wait is None:
        return
    if isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or not max_wait >= 0:
        raise InvalidRequest("max_wait", f"must be >= 0 seconds or None, got {max_wait!r}")


def _clamped_seconds(value: float | None) -> float | None:
    """A server-sent duration, clamped to [0, MAX_IMPOSED_SECONDS]; None if unusable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return min(float(value), MAX_IMPOSED_SECONDS)


def _clamped_limit(limit: Limit | None) -> Limit | None:
    """A server-sent (requests, seconds), clamped: at least 1 request, at most a day."""
    if limit is None:
        return None
    try:
        count, seconds = limit
    except (TypeError, ValueError):
        return None
    clamped = _clamped_seconds(seconds)
    if clamped is None or clamped <= 0 or isinstance(count, bool):
        return None
    if not isinstance(count, int | float) or not math.isfinite(count):
        return None
    return (max(1, int(count)), clamped)
