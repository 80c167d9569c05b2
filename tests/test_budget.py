"""The API budget (weavr_async._budget): request starts paced within every window."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence

import aiohttp
import pytest

from weavr_async import BudgetExhausted, InvalidRequest, RateBudget, WindowState
from weavr_async import _budget_windows as windows
from weavr_async.testing import FakeBackOffice


def most_starts_within(starts: Sequence[float], seconds: float) -> int:
    """The most starts in any half-open interval of `seconds`: what a window may see."""
    ordered = sorted(starts)
    most, first = 0, 0
    for last, start in enumerate(ordered):
        while ordered[first] + seconds <= start:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_most_starts_within_counts_the_busiest_interval() -> None:
    assert most_starts_within([0.0, 0.1, 0.2, 0.35, 0.4], 0.3) == 3
    assert most_starts_within([0.0, 0.3, 0.6], 0.3) == 1
    assert most_starts_within([], 1.0) == 0


# --------------------------------------------------------------------------- construction


def test_the_standard_budget_is_weavrs_documented_limits() -> None:
    standard = RateBudget.standard()
    assert standard.limits == ((100, 60.0), (1_000, 3_600.0), (10_000, 86_400.0))
    assert standard.limits == RateBudget([(100, 60), (1_000, 3_600), (10_000, 86_400)]).limits
    assert repr(standard) == "RateBudget([(100, 60.0), (1000, 3600.0), (10000, 86400.0)])"


@pytest.mark.parametrize(
    "limits",
    [
        [],
        [(0, 1.0)],
        [(-1, 1.0)],
        [(1.5, 1.0)],
        [(True, 1.0)],
        [(5, 0.0)],
        [(5, -1.0)],
        [(5, math.nan)],
        [(5, math.inf)],
        [(5, "60")],
        [(5,)],
        [(5, 1.0), (6, 1.0)],
        "100/60",
    ],
)
def test_limits_are_validated(limits: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        RateBudget(limits)  # type: ignore[arg-type]
    assert caught.value.field == "limits"


async def test_arguments_are_validated() -> None:
    budget = RateBudget([(5, 1.0)])
    for fraction in (0, -0.5, 1.5, math.nan):
        with pytest.raises(InvalidRequest, match="fraction"):
            budget.share(fraction)
    with pytest.raises(InvalidRequest, match="max_wait"):
        await budget.acquire(max_wait=-1)
    with pytest.raises(InvalidRequest, match="requests"):
        budget.time_for(-1)


# --------------------------------------------------------------------------- pacing


async def test_500_concurrent_acquirers_never_overfill_a_window_and_go_in_order() -> None:
    budget = RateBudget([(10, 0.2)])
    starts: list[float] = []
    order: list[int] = []

    async def request(number: int) -> None:
        await budget.acquire()
        starts.append(time.monotonic())
        order.append(number)

    began = time.monotonic()
    await asyncio.gather(*(request(n) for n in range(500)))
    took = time.monotonic() - began
    assert len(starts) == 500
    # Timed just after `acquire` returned, microseconds after the budget recorded the start.
    assert most_starts_within(starts, 0.2 - 0.001) == 10  # full windows, never an 11th
    assert order == list(range(500))  # first come, first served
    assert 49 * 0.2 <= took < 49 * 0.2 + 1.0  # 50 windows of 10: no slower than it must be


async def test_a_wait_longer_than_max_wait_raises_at_once_with_when_and_which_window() -> None:
    budget = RateBudget([(3, 0.5), (100, 60.0)])
    for _ in range(3):
        assert await budget.acquire(max_wait=0) == 0.0
    began = time.monotonic()
    with pytest.raises(BudgetExhausted) as caught:
        await budget.acquire(max_wait=0.1)
    assert time.monotonic() - began < 0.05  # refused without waiting
    exhausted = caught.value
    assert exhausted.window == (3, 0.5)
    assert 0.4 < exhausted.retry_after <= 0.5
    assert abs(exhausted.available_at - (time.time() + exhausted.retry_after)) < 0.05
    assert "3 requests per 0.5 s" in str(exhausted)
    waited = await budget.acquire(max_wait=1.0)  # a wait within max_wait is waited
    assert 0.4 < waited < 0.75


async def test_max_wait_counts_the_callers_queued_ahead() -> None:
    budget = RateBudget([(1, 0.2)])
    await budget.acquire()
    queued = [asyncio.create_task(budget.acquire()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(BudgetExhausted) as caught:
        await budget.acquire(max_wait=0.3)  # third in line: 0.6 s away
    assert 0.55 < caught.value.retry_after <= 0.6
    await asyncio.gather(*queued)


async def test_a_queued_caller_never_waits_past_its_max_wait() -> None:
    budget = RateBudget([(1, 0.2)])
    await budget.acquire()
    ahead = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    began = time.monotonic()
    queued = asyncio.create_task(budget.acquire(max_wait=0.5))  # 0.4 s away when it asks
    await asyncio.sleep(0)
    budget.learn(None, 2.0)  # then a 429 closes the gate for longer
    with pytest.raises(BudgetExhausted) as caught:
        await queued
    assert 0.45 < time.monotonic() - began < 0.65
    assert 1.4 < caught.value.retry_after <= 2.0
    assert len(budget._windows[0].starts) == 1  # the one that gave up recorded no start
    ahead.cancel()


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    budget = RateBudget([(1, 0.2)])
    await budget.acquire()
    first = asyncio.create_task(budget.acquire())
    second = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0.05)
    first.cancel()
    began = time.monotonic()
    assert await second > 0.1
    assert time.monotonic() - began < 0.2  # took the first slot, not a second one
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_memory_is_bounded_by_the_limits() -> None:
    budget = RateBudget([(5, 0.01), (8, 0.02)])
    for _ in range(40):
        await budget.acquire()
    assert [len(w.starts) for w in budget._windows] == [5, 8]


# --------------------------------------------------------------------------- what a 429 teaches


async def test_a_429_closes_the_gate_for_its_reset() -> None:
    budget = RateBudget.standard()
    budget.learn(None, 0.3)
    waited = await budget.acquire()
    assert 0.25 < waited < 0.5
    assert await budget.acquire() == 0.0


async def test_a_tighter_limit_is_learned_and_paced_below() -> None:
    budget = RateBudget([(100, 60.0)])
    budget.learn((200, 60.0), None)  # looser than known: nothing to learn
    budget.learn((50, 120.0), None)  # 50 per 120 s is implied by nothing known: learned
    budget.learn((3, 0.2), None)
    assert budget.limits == ((100, 60.0), (50, 120.0), (3, 0.2))
    budget.learn((60, 60.0), None)  # implied by 50 per 120 s: nothing new
    budget.learn((40, 60.0), None)  # tightens the configured minute window
    assert budget.limits == ((50, 120.0), (3, 0.2), (40, 60.0))
    starts = []
    for _ in range(6):
        await budget.acquire()
        starts.append(time.monotonic())
    assert most_starts_within(starts, 0.2) == 3
    assert starts[3] - starts[0] >= 0.2


async def test_a_hostile_429_is_clamped_to_a_day() -> None:
    budget = RateBudget.standard()
    budget.learn((1, 1_000_000.0), 1e6)  # as in `x-ratelimit-limit: 1, 1;w=1000000`
    # Not believed below Weavr's documented daily pace, which the standard budget has already.
    assert budget.limits == windows.STANDARD_LIMITS
    with pytest.raises(BudgetExhausted) as caught:
        await budget.acquire(max_wait=0)
    assert 86_399.0 < caught.value.retry_after <= 86_400.0
    assert budget.time_for(1) <= 86_400.0


@pytest.mark.parametrize("reset", [math.inf, -math.inf, math.nan, -5.0, True])
async def test_unusable_resets_are_ignored(reset: float) -> None:
    budget = RateBudget([(5, 1.0)])
    budget.learn(None, reset)
    assert await budget.acquire(max_wait=0) == 0.0


@pytest.mark.parametrize(
    ("limit", "learned"),
    [
        ((0, 1.0), (1, 1.0)),  # at least one request
        ((-7, 1.0), (1, 1.0)),
        ((2, 1e9), None),  # at most a day, at least the daily pace: this budget's own
        ((2, 3_600.0), (417, 3_600.0)),  # never slower than 10,000 a day
        ((2, math.nan), None),
        ((2, -1.0), None),
        ((2, 0.0), None),
        ((2, math.inf), None),
        ((math.nan, 1.0), None),
    ],
)
def test_learned_limits_are_clamped(limit: tuple[int, float], learned: object) -> None:
    budget = RateBudget([(10_000, 100_000.0)])
    budget.learn(limit, None)
    assert budget.limits[1:] == (() if learned is None else (learned,))


async def test_a_subsequent_acquire_waits_no_longer_than_the_clamp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(windows, "MAX_IMPOSED_SECONDS", 0.2)  # a day, scaled down
    budget = RateBudget.standard()
    budget.learn((1, 1e6), 1e6)
    began = time.monotonic()
    await budget.acquire()
    await budget.acquire()  # the learned (1, 0.2) window paces the second
    assert 0.35 < time.monotonic() - began < 0.6


async def test_learned_windows_are_bounded() -> None:
    budget = RateBudget([(10_000, 86_400.0)])
    for seconds in range(1, 20):  # none implies another
        budget.learn((seconds, float(seconds)), None)
    learned = budget.limits[1:]
    assert learned == ((16, 16.0), (17, 17.0), (18, 18.0), (19, 19.0))
    assert len(learned) == windows.MAX_LEARNED_WINDOWS


# --------------------------------------------------------------------------- shares


async def test_a_share_is_capped_and_draws_on_its_parent() -> None:
    parent = RateBudget([(10, 0.5)])
    background = parent.share(0.3)
    assert background.limits == ((3, 0.5),)
    assert "sharing RateBudget" in repr(background)
    for _ in range(3):
        assert await background.acquire(max_wait=0) == 0.0
    with pytest.raises(BudgetExhausted) as caught:
        await background.acquire(max_wait=0)
    assert caught.value.window == (3, 0.5)
    assert [s.used for s in parent.snapshot()] == [3]
    for _ in range(7):  # the interactive callers keep the rest
        assert await parent.acquire(max_wait=0) == 0.0
    with pytest.raises(BudgetExhausted):
        await parent.acquire(max_wait=0)
    states = await background.status()
    assert [(s.limit, s.used) for s in states] == [(3, 3), (10, 10)]


async def test_a_share_waits_for_its_parent_and_passes_429s_to_it() -> None:
    parent = RateBudget([(4, 0.3)])
    background = parent.share(0.5)
    for _ in range(4):
        await parent.acquire()
    with pytest.raises(BudgetExhausted) as caught:
        await background.acquire(max_wait=0)
    assert caught.value.window == (4, 0.3)  # the parent's window is the one that is full
    background.learn(None, 0.6)
    assert 0.55 < parent.time_for(1) <= 0.6
    assert parent.share(0.01).limits == ((1, 0.3),)  # never less than one


# --------------------------------------------------------------------------- planning


def test_time_for_plans_the_standard_budget() -> None:
    budget = RateBudget.standard()
    assert budget.time_for(0) == 0.0
    assert budget.time_for(1) == 0.0
    assert budget.time_for(100) == 0.0  # the first hundred start at once
    assert budget.time_for(101) == pytest.approx(60.0)
    assert budget.time_for(1_000) == pytest.approx(540.0)
    assert budget.time_for(1_001) == pytest.approx(3_600.0)
    assert budget.time_for(10_001) == pytest.approx(86_400.0)
    began = time.perf_counter()
    assert budget.time_for(1_000_000) == pytest.approx(99 * 86_400.0 + 9 * 3_600 + 540.0)
    assert time.perf_counter() - began < 1.0


async def test_time_for_starts_from_the_state_now_and_windows_interact() -> None:
    budget = RateBudget([(2, 1.0), (3, 10.0)])
    # 0, 0 | 1 (minute full) | 10 (ten-second full), 10 | 11: later than either window alone.
    assert budget.time_for(6) == pytest.approx(11.0)
    await budget.acquire()
    await budget.acquire()
    assert budget.time_for(1) == pytest.approx(1.0, abs=0.05)
    budget.learn(None, 5.0)
    assert budget.time_for(1) == pytest.approx(5.0, abs=0.05)


async def test_status_shows_what_is_left_per_window() -> None:
    budget = RateBudget([(3, 0.3), (5, 10.0)])
    assert await budget.status() == [
        WindowState(limit=3, seconds=0.3, used=0, remaining=3, resets_in=0.0),
        WindowState(limit=5, seconds=10.0, used=0, remaining=5, resets_in=0.0),
    ]
    for _ in range(3):
        await budget.acquire()
    minute, long = budget.snapshot()
    assert (minute.used, minute.remaining, long.used, long.remaining) == (3, 0, 3, 2)
    assert 0.25 < minute.resets_in <= 0.3
    assert long.resets_in == 0.0
    await asyncio.sleep(0.3)
    assert (await budget.status())[0].used == 0


# --------------------------------------------------------------------------- the simulator


async def _get(session: aiohttp.ClientSession, fake: FakeBackOffice) -> aiohttp.ClientResponse:
    async with session.get(f"{fake.url}/transfers", headers={"api-key": fake.api_key}) as r:
        await r.read()
        return r


async def test_the_simulator_enforces_several_windows_at_once() -> None:
    async with FakeBackOffice(seed=1) as fake, aiohttp.ClientSession() as session:
        fake.set_rate_limits([(2, 0.2), (3, 1.0)])
        assert [(await _get(session, fake)).status for _ in range(2)] == [401, 401]
        limited = await _get(session, fake)  # the 0.2 s window is full
        assert limited.status == 429
        assert limited.headers["x-ratelimit-limit"] == "2, 2;w=0.2, 3;w=1"
        assert limited.headers["x-ratelimit-reset"] == "1"
        await asyncio.sleep(0.21)
        assert (await _get(session, fake)).status == 401  # third of the second's three
        limited = await _get(session, fake)
        assert limited.status == 429  # the one-second window is full: it is named first
        assert limited.headers["x-ratelimit-limit"] == "3, 2;w=0.2, 3;w=1"
        assert fake.faults.injected["rate_limiter"] == 2  # a refused request counts nowhere
        fake.set_rate_limits(None)
        assert (await _get(session, fake)).status == 401
        fake.set_rate_limit(1, window=5)  # the one-window form still works
        await _get(session, fake)
        assert (await _get(session, fake)).headers["x-ratelimit-limit"] == "1, 1;w=5"


async def test_a_budget_of_the_servers_windows_meets_no_429() -> None:
    async with FakeBackOffice(seed=1) as fake, aiohttp.ClientSession() as session:
        fake.set_rate_limits([(4, 0.25), (6, 0.5)])
        # The server counts arrivals, the budget starts; a start that reaches the server a
        # few milliseconds sooner than the one `limit` before it could be counted one window
        # early, so the budget keeps a 10% margin on the windows.
        budget = RateBudget([(4, 0.275), (6, 0.55)])

        async def paced() -> int:
            await budget.acquire()
            return (await _get(session, fake)).status

        statuses = await asyncio.gather(*(paced() for _ in range(16)))
    assert statuses.count(429) == 0
    assert len(statuses) == 16
