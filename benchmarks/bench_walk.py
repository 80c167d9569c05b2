"""Walking a 200,000-entry account statement over loopback, side by side in one run.

- the ceiling: a bare aiohttp loop that only fetches the same pages (16 in flight) and
  decodes them with orjson, counting entries as they stream in;
- the SDK with typed models, and the SDK's raw mode (dicts), both at concurrency 16;
- with 25 ms of injected latency: the typed walk at concurrency 1, 4 and 16.

The simulator runs in a child process (see _server.py) so client and server each have a core.
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

from ._server import simulator
from ._table import print_table

ENTRIES = 200_000
PAGE = 500
ROUNDS = 3
FAST_ROUNDS = 7  # the zero-latency walks take about a second: more rounds, steadier best


async def ceiling(info: dict[str, Any], concurrency: int = 16) -> int:
    """Fetch and JSON-decode every page with `concurrency` requests in flight; no models."""
    base = info["url"]
    headers = {"api-key": info["api_key"]}
    async with aiohttp.ClientSession() as session:
        body = orjson.dumps({"identity": {"type": "CORPORATE", "id": info["identity"]}})
        async with session.post(
            f"{base}/access_token",
            data=body,
            headers={**headers, "content-type": "application/json"},
        ) as resp:
            token = orjson.loads(await resp.read())["token"]
        token = token["token"] if isinstance(token, dict) else token
        headers["authorization"] = f"Bearer {token}"
        url = f"{base}/managed_accounts/{info['account']}/statement"
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


def timed(
    runs: dict[str, Callable[[], Awaitable[int]]], rounds: int = ROUNDS
) -> dict[str, tuple[int, float]]:
    """Best time of each run over `rounds`, the runs interleaved so that noise from the rest
    of the machine falls on all of them alike."""
    best: dict[str, tuple[int, float]] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            count = asyncio.run(_awaited(run))
            elapsed = time.perf_counter() - started
            if name not in best or elapsed < best[name][1]:
                best[name] = (count, elapsed)
    return best


def main() -> None:
    with simulator(ENTRIES) as info:
        results = timed(
            {
                "ceiling: aiohttp + orjson, 16 in flight": lambda: ceiling(info),
                "SDK typed models, concurrency 16": lambda: sdk_walk(info, 16, raw=False),
                "SDK raw mode, concurrency 16": lambda: sdk_walk(info, 16, raw=True),
            },
            rounds=FAST_ROUNDS,
        )
    ceiling_rate = _rate(results["ceiling: aiohttp + orjson, 16 in flight"])
    rows = [
        (name, count, seconds, count / seconds, f"{(count / seconds) / ceiling_rate:.0%}")
        for name, (count, seconds) in results.items()
    ]
    print_table(
        f"Walk of a {ENTRIES:,}-entry account statement, pages of {PAGE}, loopback "
        f"(best of {FAST_ROUNDS})",
        ["walk", "entries", "seconds", "entries/s", "of ceiling"],
        rows,
    )
    with simulator(ENTRIES, latency=0.025) as info:
        runs: dict[str, Callable[[], Awaitable[int]]] = {
            str(c): functools.partial(sdk_walk, info, c, raw=False) for c in (1, 4, 16)
        }
        slow = {int(c): result for c, result in timed(runs).items()}
    base = _rate(slow[1])
    print_table(
        f"Same walk with 25 ms latency per response: SDK typed walk by concurrency "
        f"(best of {ROUNDS})",
        ["concurrency", "entries", "seconds", "entries/s", "speedup vs 1"],
        [(c, n, s, n / s, f"{(n / s) / base:.1f}x") for c, (n, s) in slow.items()],
    )


async def _awaited(run: Callable[[], Awaitable[int]]) -> int:
    return await run()


def _rate(result: tuple[int, float]) -> float:
    return result[0] / result[1]


if __name__ == "__main__":
    main()
