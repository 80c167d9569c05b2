"""Peak memory of a 1,000,000-entry statement walk: streamed versus collected into a list.

Each walk runs in a fresh client process that reports its own peak RSS (the simulator runs
in another process and is not counted), next to a process that only imports the SDK and
opens a client.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from typing import Any

from weavr_async import BackOffice, Identity, RateBudget

from ._table import print_table

ENTRIES = 1_000_000
MODES = ("baseline", "streamed", "collected")


async def walk(info: dict[str, Any], mode: str) -> int:
    async with BackOffice(
        api_key=info["api_key"], base_url=info["url"], budget=RateBudget.unlimited()
    ) as bo:
        stream = bo.identity(Identity.corporate(info["identity"])).managed_accounts.statement(
            info["account"], concurrency=8
        )
        if mode == "streamed":
            n = 0
            async for _ in stream:
                n += 1
            return n
        return len(await stream.collect())


def client(info: dict[str, Any], mode: str) -> dict[str, float]:
    started = time.perf_counter()
    count = 0 if mode == "baseline" else asyncio.run(walk(info, mode))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"entries": count, "seconds": time.perf_counter() - started, "peak_mb": peak_mb}


def main() -> None:
    # Imported here, not at the top: the client processes must not load the simulator.
    from ._server import simulator

    rows = []
    with simulator(ENTRIES) as info:
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_memory", mode, json.dumps(info)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out)
            rows.append((mode, int(result["entries"]), result["seconds"], result["peak_mb"]))
    print_table(
        f"Peak RSS of the client process, {ENTRIES:,}-entry account statement (typed models)",
        ["walk", "entries", "seconds", "peak RSS MB"],
        rows,
    )


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(client(json.loads(sys.argv[2]), sys.argv[1])))
    else:
        main()
