"""The API budget: how many requests may start per window, for every caller of one API key.

Weavr counts requests per programme in several windows at once (by default 100 a minute,
1,000 an hour, 10,000 a day) and answers 429 until an exceeded window is over, which can be
an hour. A `RateBudget` paces request starts so that no window is ever exceeded: it keeps,
per window, the times of the newest `limit` starts (a sliding-window log) and lets a request
start only when at most `limit - 1` others started in the `seconds` before it. That holds in
every interval of that length, so it is safe whether the API counts fixed or sliding windows.

The in-process budget here serves one process; `RateBudget.redis` (in `_budget_redis`)
serves every process of a programme through one Redis. The arithmetic both share (window
logs, plans, the clamps on what a 429 may impose) is in `_budget_windows`, free of I/O.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ._budget_windows import (
    MAX_IMPOSED_SECONDS,
    MAX_LEARNED_WINDOWS,
    STANDARD_LIMITS,
    Limit,
    Window,
    WindowState,
    check_max_wait,
    clamped_limit,
    clamped_seconds,
    implies,
    plan,
    validated_limits,
)
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
        self._setup([Window(n, w) for n, w in validated_limits(limits)], clock, None)

    def _setup(
        self, windows: list[Window], clock: Callable[[], float], parent: RateBudget | None
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
    def unlimited(cls) -> RateBudget:
        """No window of its own: requests start at once until a 429 teaches one (for the
        simulator, or a programme whose limits are enforced elsewhere)."""
        budget = cls(STANDARD_LIMITS)
        budget._windows = []
        return budget

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
        check_max_wait(max_wait)
        if self.start_now():  # nobody waiting and room now (the common case): no queueing
            return 0.0
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

    def start_now(self) -> bool:
        """Record a start now if one may start at once without queueing (nobody waiting, room
        in every window), and say so; else record nothing (then `acquire`). No I/O: a shared
        budget always answers False, its starts are decided where they are shared."""
        if type(self) is not RateBudget or self._busy or self._queue:
            return False
        now = self._clock()
        wait, _ = self._wait(now)
        if wait > 0:
            return False
        self._record(now)
        return True

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
        learned = clamped_limit(limit)
        seconds = clamped_seconds(reset)
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
        capped = [Window(max(1, math.floor(fraction * w.limit)), w.seconds) for w in self._windows]
        return self._view(capped, fraction)

    def _view(self, windows: list[Window], fraction: float) -> RateBudget:
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

    async def flush(self) -> None:
        """Wait until what `learn` took in is in force everywhere it is shared (here: done)."""

    async def aclose(self) -> None:
        """Release what the budget holds (a shared budget: its own Redis connections)."""

    # -- internals

    def _root(self) -> RateBudget:
        budget = self
        while budget._parent is not None:
            budget = budget._parent
        return budget

    def _chain_windows(self) -> list[Window]:
        if self._parent is None:
            return self._windows  # not copied: read, never changed, by the callers
        windows: list[Window] = []
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
        """When the last of `requests` starts could be, and the window that sets it."""
        root = self._root()
        return plan(self._chain_windows(), requests, now, root._gate, root._gate_window)

    def _exhausted(self, wait: float, window: Limit | None) -> BudgetExhausted:
        return BudgetExhausted(retry_after=wait, available_at=time.time() + wait, window=window)

    def _tighten(self, limit: int, seconds: float) -> None:
        """Pace below a limit a 429 taught, unless a known window already implies it."""
        newest = max(self._windows, key=lambda w: w.limit).starts if self._windows else ()
        # Tightening a configured window keeps it configured: only learned ones are dropped.
        configured = any(w.seconds == seconds and not w.learned for w in self._windows)
        replacement = Window(limit, seconds, learned=not configured, starts=newest)
        if any(implies(w, replacement) for w in self._windows):
            return
        kept = [
            w
            for w in self._windows
            if w.seconds != seconds and not (w.learned and implies(replacement, w))
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
