"""A simulator in a child process, so the benchmarked client has a core of its own.

`python -m benchmarks._server --history N [--latency S]` prints one JSON line (url, api key,
identity and account ids) once it serves, and runs until its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from weavr_async.testing import FakeBackOffice


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
    """Start the child simulator; yields what it printed; stops it on exit."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._server", "--history", str(history),
         "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark simulator did not start")
        yield json.loads(line)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.history, args.latency))
