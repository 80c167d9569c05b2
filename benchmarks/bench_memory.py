"""Memory: what one collected statement entry costs, and the peak of a 1,000,000-entry walk,
streamed versus collected into a list.

The cost of an entry is measured with tracemalloc: decoded pages of the simulator's own
statement (the entries the walk benchmarks serve), made into models as a walk makes them, and
kept; every byte still allocated once the pages' JSON is gone counts, divided by the entries
(`python -m benchmarks.bench_memory entry` runs this part alone, in a second).

Each walk runs in a fresh client process that reports its own peak RSS (the simulator runs
in another process and is not counted), next to a process that only imports the SDK and
opens a client.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import orjson

from weavr_async import BackOffice, Identity, RateBudget, StatementEntry
from weavr_async.models import structure_many

from ._table import print_table

ENTRIES = 1_000_000
MODES = ("baseline", "streamed", "collected")
KEPT_PAGES = 8  # 4,000 entries: enough that one page's shared words are a rounding error
PAGE = 500


def statement_pages(pages: int) -> list[bytes]:
    """Pages of the simulator's statement of an EUR account, as the API's bodies."""
    from weavr_async.testing._history import Ledger  # the simulator's ledger, seeded

    ledger = Ledger("EUR", random.Random(42), is_card=False)
    ledger.seed(pages * PAGE, 1_800_000_000_000, 1)
    return [
        orjson.dumps({"entry": [ledger.entry(i) for i in range(p * PAGE, (p + 1) * PAGE)]})
        for p in range(pages)
    ]


def bytes_each(pages: list[bytes], typed: bool) -> float:
    """Bytes still allocated per entry once `pages` are decoded (typed: into StatementEntry
    models, page by page as a walk does) and kept, their JSON freed."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept: list[Any] = []
        for body in pages:
            entries = orjson.loads(body)["entry"]
            kept.extend(structure_many(entries, StatementEntry) if typed else entries)
            del entries
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before - sys.getsizeof(kept)
    finally:
        tracemalloc.stop()
    return held / len(kept)


def entry_table() -> None:
    pages = statement_pages(KEPT_PAGES)
    print_table(
        f"Memory per collected statement entry ({KEPT_PAGES * PAGE:,} entries of the "
        "simulator's statement, tracemalloc)",
        ["kept", "bytes each"],
        [
            ("collected StatementEntry, bytes each", round(bytes_each(pages, typed=True))),
            ("collected raw entry (JSON object), bytes each", round(bytes_each(pages, False))),
        ],
    )


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
    entry_table()
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
    elif sys.argv[1:] == ["entry"]:
        entry_table()
    else:
        main()
