"""Walking a 200,000-entry account statement over loopback, side by side in one run.

- the ceiling: a bare aiohttp loop that only fetches the same pages (16 in flight) and
  decodes them with orjson, counting entries as they stream in;
- the SDK with typed models, and the SDK's raw mode (dicts), both at concurrency 16;
- with 25 ms of injected latency: the typed walk at concurrency 1, 4 and 16.

The zero-latency walks are served by the simulator behind a caching front (_prerendered.py):
one untimed round of each walk fills the cache, and the timed rounds are checked to have been
answered from it, so what is timed is the client, not the simulator's rendering. The latency
walks are served by the simulator itself (_server.py). Servers run in a child process, so
client and server each have a core.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from weavr_async import BackOffice, Identity, RateBudget

from ._prerendered import cache_stats, prerendered, timed_report
from ._reference import bare_headers
from ._rounds import Measure, best, interleaved, spread
from ._server import simulator
from ._table import print_table

ENTRIES = 200_000
PAGE = 500
ROUNDS = 3
FAST_ROUNDS = 7  # the zero-latency walks take about a second: more rounds, steadier best
CEILING = "ceiling: bare aiohttp + orjson, 16 in flight"
TYPED = "SDK typed models, concurrency 16"
RAW = "SDK stream.raw(), concurrency 16"


async def ceiling(info: dict[str, Any], concurrency: int = 16) -> int:
    """Fetch and JSON-decode every page with `concurrency` requests in flight; no models."""
    async with aiohttp.ClientSession() as session:
        headers = await bare_headers(session, info)
        url = f"{info['url']}/managed_accounts/{info['account']}/statement"
        gate = asyncio.Semaphore(concurrency)
        total = 0

        async def page(offset: int) -> int:
            async with gate:
                params = {"offset": str(offset), "statementLimit": str(PAGE)}
                async with session.get(url, params=params, headers=headers) as resp:
                    data = orjson.loads(await resp.read())
            return len(data["entry"])

        first = await page(0)
        count_probe = await _count(session, url, headers)
        total += first
        for done in asyncio.as_completed([page(o) for o in range(PAGE, count_probe, PAGE)]):
            total += await done
        return total  # fmt: skip


async def _count(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    params = {"offset": "0", "statementLimit": "1"}
    async with session.get(url, params=params, headers=headers) as resp:
        count: int = orjson.loads(await resp.read())["count"]
    return count


async def sdk_walk(info: dict[str, Any], concurrency: int, raw: bool) -> int:
    async with BackOffice(
        api_key=info["api_key"],
        base_url=info["url"],
        max_concurrency=max(16, concurrency),
        budget=RateBudget.unlimited(),
    ) as bo:
        stream = bo.identity(Identity.corporate(info["identity"])).managed_accounts.statement(
            info["account"], concurrency=concurrency
        )
        n = 0
        if raw:
            async for _ in stream.raw():
                n += 1
        else:
            async for _ in stream:
                n += 1
        return n


def walk_measures(info: dict[str, Any]) -> dict[str, Measure]:
    """The three zero-latency walks of the `ENTRIES`-entry statement, each giving entries/s."""
    return {
        CEILING: entries_per_second(lambda: ceiling(info)),
        TYPED: entries_per_second(lambda: sdk_walk(info, 16, raw=False)),
        RAW: entries_per_second(lambda: sdk_walk(info, 16, raw=True)),
    }


def entries_per_second(walk: Callable[[], Awaitable[int]], entries: int = ENTRIES) -> Measure:
    """A walk as a measure: entries per second, the count checked."""

    async def measure() -> float:
        started = time.perf_counter()
        walked = await walk()
        elapsed = time.perf_counter() - started
        if walked != entries:
            raise RuntimeError(f"a walk yielded {walked:,} entries, not {entries:,}")
        return walked / elapsed

    return measure


def main() -> None:
    with prerendered(ENTRIES) as info:
        walks = walk_measures(info)
        interleaved(walks, 1)  # untimed: every page any walk asks for is rendered and kept
        warm = cache_stats(info)
        rates = interleaved(walks, FAST_ROUNDS)
        served = cache_stats(info)
    ceiling_rate = best(rates[CEILING])
    print_table(
        f"Walk of a {ENTRIES:,}-entry account statement, pages of {PAGE}, loopback, "
        f"pre-rendered server (best of {FAST_ROUNDS})",
        ["walk", "entries", "seconds", "entries/s", "of ceiling", "spread"],
        [
            (
                name,
                ENTRIES,
                ENTRIES / best(r),
                round(best(r)),
                f"{best(r) / ceiling_rate:.0%}",
                f"{spread(r):.0%}",
            )
            for name, r in rates.items()
        ],
    )
    print(timed_report(warm, served))
    with simulator(ENTRIES, latency=0.025) as info:
        slow = interleaved(
            {
                str(c): entries_per_second(functools.partial(sdk_walk, info, c, raw=False))
                for c in (1, 4, 16)
            },
            ROUNDS,
        )
    base = best(slow["1"])
    print_table(
        f"Same walk with 25 ms latency per response (simulator): SDK typed walk by "
        f"concurrency (best of {ROUNDS})",
        ["concurrency", "entries", "seconds", "entries/s", "speedup vs 1"],
        [
            (int(c), ENTRIES, ENTRIES / best(r), round(best(r)), f"{best(r) / base:.1f}x")
            for c, r in slow.items()
        ],
    )


if __name__ == "__main__":
    main()
