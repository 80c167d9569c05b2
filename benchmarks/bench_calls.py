"""What a web backend pays per call: `managed_accounts.get` through the SDK against bare
aiohttp + orjson, 1 caller and 64 concurrent callers, side by side in one run, against a
reference server in its own process. `python -m benchmarks calls`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

import aiohttp
import orjson

from weavr_async import BackOffice, Identity, RateBudget

from ._reference import bare_headers, reference_server
from ._rounds import Measure, best, interleaved, spread
from ._table import print_table

SECONDS = 2.0  # each measure runs this long (after a warm-up)
ROUNDS = 3  # best of


async def _bare(info: dict[str, Any], callers: int) -> float:
    """Calls per second: one session, the token fetched once, a GET decoded with orjson."""
    url = info["url"]
    connector = aiohttp.TCPConnector(limit=max(callers, 16))
    async with aiohttp.ClientSession(connector=connector) as session:
        headers = await bare_headers(session, info)
        target = f"{url}/managed_accounts/{info['account']}"

        async def call() -> None:
            async with session.get(target, headers=headers) as resp:
                body = orjson.loads(await resp.read())
                assert resp.status == 200 and body["id"] == info["account"]

        return await _rate(call, callers)


async def _sdk(info: dict[str, Any], callers: int) -> float:
    async with BackOffice(
        info["api_key"],
        base_url=info["url"],
        max_concurrency=max(callers, 16),
        budget=RateBudget.unlimited(),  # raised limits: CPU is what is measured
    ) as bo:
        accounts = bo.identity(Identity.corporate(info["identity"])).managed_accounts

        async def call() -> None:
            account = await accounts.get(info["account"])
            assert account.id == info["account"]

        return await _rate(call, callers)


async def _rate(call: Any, callers: int) -> float:
    for _ in range(50):  # warm-up: connections open, token cached
        await call()
    done = 0
    stop = time.perf_counter() + SECONDS

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return done / (time.perf_counter() - started)


def call_measures(info: dict[str, Any], callers: int) -> dict[str, Measure]:
    """The SDK's call and the bare one with `callers` concurrent callers, each giving calls/s."""
    return {
        "SDK": functools.partial(_sdk, info, callers),
        "bare": functools.partial(_bare, info, callers),
    }


def label(callers: int) -> str:
    return f"managed_accounts.get, {callers} caller{'s' if callers > 1 else ''}"


def main() -> None:
    rows = []
    with reference_server() as info:
        for callers in (1, 64):
            # interleaved rounds, so drift hits both alike
            rates = interleaved(call_measures(info, callers), ROUNDS)
            sdk, bare = rates["SDK"], rates["bare"]
            rows.append(
                (
                    label(callers),
                    round(best(sdk)),
                    round(best(bare)),
                    round(best(sdk) / best(bare), 2),
                    f"{spread(sdk):.0%} / {spread(bare):.0%}",
                )
            )
    print_table(
        f"Calls per second (best of {ROUNDS} x {SECONDS:.0f} s), reference server in a child",
        ["call", "SDK", "bare aiohttp + orjson", "ratio", "spread SDK / bare"],
        rows,
    )


if __name__ == "__main__":
    main()
