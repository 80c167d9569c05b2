"""The reconcile job in this process vs on 2 Dask worker processes, with the limits raised.

IDENTITIES identities, each with an account of ACCOUNT entries and a card of CARD entries whose
TRANSFER entries are backed by transfers, served by a simulator in a child process with no rate
limits (the job's budget unlimited): the job is CPU-bound, decoding and checking entries. It
runs in this process (one client), then on a local Dask cluster of 2 worker processes of one
thread each (one client per worker); both must give the same results. The cluster's start-up
is timed apart: a nightly run pays it once.

`python -m benchmarks.bench_reconcile --serve` is the child simulator (one JSON line, then
serves until its stdin closes).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from weavr_async import reconcile
from weavr_async.testing import FakeBackOffice

from ._child import child_server
from ._table import print_table

IDENTITIES = 16
ACCOUNT = 20_000
CARD = 4_000
ROUNDS = 2


async def serve() -> None:
    async with FakeBackOffice(seed=9) as fake:
        fake.record_requests = False
        rows = []
        for n in range(IDENTITIES):
            kind = "CORPORATE" if n % 2 == 0 else "CONSUMER"
            identity = fake.add_identity(kind)
            account = fake.add_managed_account(identity, history=ACCOUNT)
            card = fake.add_managed_card(identity, history=CARD)
            for made in (account, card):
                fake.record_statement_transfers(made)
                rows.append([kind, identity.id, made.kind, made.id])
        print(json.dumps({"url": fake.url, "api_key": fake.api_key, "targets": rows}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextmanager
def simulator() -> Iterator[dict[str, Any]]:
    with child_server("benchmarks.bench_reconcile", "--serve") as info:
        yield info


async def in_process(
    api_key: str, targets: list[reconcile.Target], settings: reconcile.ClientSettings
) -> tuple[float, reconcile.Report]:
    async with reconcile.connect(api_key, settings) as client:
        started = time.perf_counter()
        report = await reconcile.reconcile(client, targets, identities_at_once=IDENTITIES)
        return time.perf_counter() - started, report


async def on_dask(
    targets: list[reconcile.Target], settings: reconcile.ClientSettings
) -> tuple[float, list[tuple[float, reconcile.Report]]]:
    distributed: Any = importlib.import_module("distributed")  # untyped for mypy
    started = time.perf_counter()
    async with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        asynchronous=True,
    ) as cluster:
        startup = time.perf_counter() - started
        runs = []
        for _ in range(ROUNDS):
            began = time.perf_counter()
            report = await reconcile.reconcile_on_dask(
                targets, client=settings, scheduler=cluster.scheduler_address
            )
            runs.append((time.perf_counter() - began, report))
    return startup, runs


def main() -> None:
    with simulator() as info:
        targets = [reconcile.Target.of(*row) for row in info["targets"]]
        settings = reconcile.ClientSettings(
            base_url=info["url"], budget="unlimited", max_concurrency=32
        )
        local = [asyncio.run(in_process(info["api_key"], targets, settings)) for _ in range(ROUNDS)]
        saved = os.environ.get("WEAVR_API_KEY")
        os.environ["WEAVR_API_KEY"] = info["api_key"]  # the workers read it from theirs
        try:
            startup, dask = asyncio.run(on_dask(targets, settings))
        finally:
            if saved is None:
                del os.environ["WEAVR_API_KEY"]
            else:
                os.environ["WEAVR_API_KEY"] = saved
    expected = reconcile.render_jsonl(local[0][1].results)
    for _, report in [*local, *dask]:
        if reconcile.render_jsonl(report.results) != expected or not report.ok:
            raise RuntimeError("the runs disagree, or a book does not hold")
    entries = sum(r.entries for r in local[0][1].results)
    best_local = min(seconds for seconds, _ in local)
    best_dask = min(seconds for seconds, _ in dask)
    print_table(
        f"Reconcile {len(targets)} instruments of {IDENTITIES} identities ({entries:,} entries: "
        f"accounts of {ACCOUNT:,}, cards of {CARD:,}), simulator in a child process, no rate "
        f"limits, {os.cpu_count()} CPUs (best of {ROUNDS}); identical results",
        ["executor", "entries", "seconds", "entries/s", "vs in-process"],
        [
            ("in this process, one client", entries, best_local, entries / best_local, "1.00x"),
            (
                "2 Dask workers, one client each",
                entries,
                best_dask,
                entries / best_dask,
                f"{best_local / best_dask:.2f}x",
            ),
            ("(Dask cluster start-up, once)", "", startup, "", ""),
        ],
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        asyncio.run(serve())
    else:
        main()
