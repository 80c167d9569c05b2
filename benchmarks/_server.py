"""A simulator in a child process, so the benchmarked client has a core of its own.

`python -m benchmarks._server --history N [--latency S]` prints one JSON line (url, api key,
identity and account ids) once it serves, and runs until its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from weavr_async.testing import FakeBackOffice

from ._child import child_server


async def serve(history: int, latency: float) -> None:
    async with FakeBackOffice(seed=42, latency=latency) as fake:
        fake.record_requests = False  # a benchmark server keeps no log of what it served
        ident = fake.add_identity("CORPORATE")
        account = fake.add_managed_account(ident, currency="EUR", history=history)
        info = {
            "url": fake.url,
            "api_key": fake.api_key,
            "identity": ident.id,
            "account": account.id,
        }
        print(json.dumps(info), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextmanager
def simulator(history: int, latency: float = 0.0) -> Iterator[dict[str, Any]]:
    """The child simulator with one account of `history` entries."""
    with child_server(
        "benchmarks._server", "--history", str(history), "--latency", str(latency)
    ) as info:
        yield info


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.history, args.latency))
