"""The budget shared through Redis (weavr_async._budget_redis), against a real redis-server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from test_budget import most_starts_within

from weavr_async import BudgetExhausted, InvalidRequest, RateBudget, TransportError

# Starts are timed where they are used, a Redis round trip after Redis admitted them; two
# admitted exactly a window apart can be seen that much closer. This is the slack allowed.
ROUND_TRIP = 0.02
LIMIT = (5, 0.3)

Budgets = Callable[..., RateBudget]


@pytest.fixture
async def budgets(redis_url: str) -> AsyncIterator[Budgets]:
    """Makes Redis budgets on the session's server (a fresh key per test), closes them all."""
    key = f"test-{uuid.uuid4().hex[:12]}"
    made: list[RateBudget] = []

    def make(**options: object) -> RateBudget:
        options.setdefault("limits", [LIMIT])
        options.setdefault("key", key)
        budget = RateBudget.redis(options.pop("url", redis_url), **options)  # type: ignore[arg-type]
        made.append(budget)
        return budget

    yield make
    for budget in made:
        await budget.aclose()


async def _starts(budget: RateBudget, count: int) -> list[float]:
    starts: list[float] = []

    async def one() -> None:
        await budget.acquire()
        starts.append(time.time())

    await asyncio.gather(*(one() for _ in range(count)))
    return starts


async def test_two_clients_of_one_key_share_its_windows(budgets: Budgets) -> None:
    first, second = budgets(), budgets()  # as two processes would hold them
    began = time.monotonic()
    a, b = await asyncio.gather(_starts(first, 15), _starts(second, 15))
    took = time.monotonic() - began
    assert most_starts_within(a + b, LIMIT[1] - ROUND_TRIP) <= LIMIT[0]
    # They did draw on it at the same time.
    assert min(b) < max(a)
    assert min(a) < max(b)
    assert 5 * LIMIT[1] <= took < 5 * LIMIT[1] + 1.0  # six windows of five: no slower
    shown = await first.status()
    assert shown[0].limit == 5
    assert shown[0].used + shown[0].remaining == 5


async def test_different_keys_are_different_budgets(budgets: Budgets) -> None:
    mine, theirs = budgets(key="programme-a"), budgets(key="programme-b")
    for _ in range(5):
        await mine.acquire(max_wait=0)
    assert await theirs.acquire(max_wait=0) == 0.0


_WORKER = """
import asyncio, json, sys, time
from weavr_async import RateBudget

async def main(url, key, count):
    budget = RateBudget.redis(url, limits=[(5, 0.3)], key=key)
    await budget.status()  # connected
    print("ready", flush=True)
    sys.stdin.readline()
    starts = []
    async def one():
        await budget.acquire()
        starts.append(time.time())
    await asyncio.gather(*(one() for _ in range(count)))
    await budget.aclose()
    print(json.dumps(starts), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def test_two_processes_share_one_budget(redis_url: str) -> None:
    key = f"test-{uuid.uuid4().hex[:12]}"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_url, key, "12"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:  # both connected before either starts
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=15)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert [worker.returncode for worker in workers] == [0, 0]
    a, b = (json.loads(output) for output in outputs)
    assert len(a) == len(b) == 12
    assert min(b) < max(a)
    assert min(a) < max(b)
    assert most_starts_within(a + b, LIMIT[1] - ROUND_TRIP) <= LIMIT[0]


async def test_a_429_met_by_one_client_holds_back_the_other(budgets: Budgets) -> None:
    met, other = budgets(), budgets()
    met.learn(None, 0.4)
    await met.flush()  # learn() sends the gate in the background; here, wait for it
    with pytest.raises(BudgetExhausted) as caught:
        await other.acquire(max_wait=0.1)
    assert 0.3 < caught.value.retry_after <= 0.4
    assert caught.value.window is None  # the gate, not a window
    waited = await other.acquire()
    assert 0.3 < waited < 0.6
    assert await met.acquire(max_wait=0) == 0.0


async def test_an_exhausted_shared_window_raises_at_once(budgets: Budgets) -> None:
    first, second = budgets(), budgets()
    for _ in range(5):
        await first.acquire()
    began = time.monotonic()
    with pytest.raises(BudgetExhausted) as caught:
        await second.acquire(max_wait=0.05)
    assert time.monotonic() - began < 0.05
    assert caught.value.window == LIMIT
    assert 0.2 < caught.value.retry_after <= 0.3
    states = await second.status()  # what Redis holds, also what second plans from now
    assert (states[0].used, states[0].remaining) == (5, 0)
    assert 0.1 < second.time_for(1) <= 0.3


async def test_a_share_is_capped_across_clients_and_draws_on_the_budget(
    budgets: Budgets,
) -> None:
    web, job = budgets(limits=[(10, 0.5)]), budgets(limits=[(10, 0.5)])
    background, background_elsewhere = job.share(0.2), web.share(0.2)
    assert background.limits == ((2, 0.5),)
    await background.acquire(max_wait=0)
    await background_elsewhere.acquire(max_wait=0)  # same fraction, same slice
    with pytest.raises(BudgetExhausted) as caught:
        await background.acquire(max_wait=0)
    assert caught.value.window == (2, 0.5)
    for _ in range(8):  # the rest is the web backend's
        assert await web.acquire(max_wait=0) == 0.0
    with pytest.raises(BudgetExhausted):
        await job.acquire(max_wait=0)
    states = await background.status()
    assert [(s.limit, s.used) for s in states] == [(2, 2), (10, 10)]


async def test_the_password_never_shows(
    budgets: Budgets, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin = aioredis.from_url(redis_url)
    # redis-py leaves execute_command unannotated (its typed acl_setuser returns bool | Awaitable).
    await admin.execute_command(  # type: ignore[no-untyped-call]
        "ACL", "SETUSER", "budget-user", "on", ">pa55-W0rd%secret", "~*", "+@all"
    )
    await admin.aclose()
    where = redis_url.removeprefix("redis://")
    good = budgets(url=f"redis://budget-user:pa55-W0rd%25secret@{where}")
    assert await good.acquire() == 0.0
    bad = budgets(url=f"redis://budget-user:wrong-pa55-W0rd@{where}")
    with pytest.raises(TransportError) as caught:
        await bad.acquire()
    unreachable = budgets(url="redis://:pa55-W0rd@127.0.0.1:1/0")
    with pytest.raises(TransportError) as refused:
        await unreachable.acquire()
    unreachable.learn(None, 1.0)  # its gate cannot be shared: a warning, logged
    await unreachable.aclose()
    assert "could not share" in caplog.text
    with pytest.raises(InvalidRequest) as invalid:
        RateBudget.redis("http://:pa55-W0rd@127.0.0.1/0", key="k")
    with pytest.raises(InvalidRequest) as unparsable:
        RateBudget.redis("redis://:pa55-W0rd@127.0.0.1:port/0", key="k")
    shown = [repr(good), str(good), repr(good.share(0.5)), repr(bad), repr(unreachable)]
    for error in (caught.value, refused.value, invalid.value, unparsable.value):
        shown += [str(error), repr(error), repr(error.__cause__), repr(error.__context__)]
    assert "redis://***@127.0.0.1" in repr(good)
    shown.append(caplog.text)
    for text in shown:
        assert "pa55" not in text, text
        assert "secret" not in text, text
        assert "budget-user" not in text, text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/0",
        "redis:///0",
        "127.0.0.1:6379",
        "",
    ],
)
def test_only_redis_urls_are_accepted(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        RateBudget.redis(url, key="k")
    assert caught.value.field == "url"


@pytest.mark.parametrize("key", ["", "a b", "{tag}", "x" * 129])
def test_keys_are_validated(key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        RateBudget.redis("redis://127.0.0.1:6379/0", key=key)
    assert caught.value.field == "key"


def test_without_redis_installed_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "weavr_async._budget_redis", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'weavr-async\[distributed\]'"):
        RateBudget.redis("redis://127.0.0.1:6379/0", key="k")
