"""A/B two source trees of the SDK on the per-call measure: `python -m benchmarks.ab OLD NEW`.

For a change to the per-call path, whose effect (a few %) is smaller than the noise of one
run on a shared machine. Each round measures bare aiohttp, the OLD tree and the NEW tree, one
after another, each in a fresh child process with that tree first on its path (the same
reference server answers all three), and prints each tree's ratio to bare by round and NEW
against OLD by round: a change is a gain when most rounds say so, not when one best does.

    git worktree add /tmp/old HEAD~1
    python -m benchmarks.ab /tmp/old . --callers 64 --rounds 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._reference import reference_server

_CHILD = """
import asyncio, json, sys
import weavr_async
from benchmarks import bench_calls
if not weavr_async.__file__.startswith(sys.argv[4]):
    raise SystemExit(f"imported {weavr_async.__file__}, not the tree under test")
info, callers, kind = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
measure = bench_calls._sdk if kind == "sdk" else bench_calls._bare
print(asyncio.run(measure(info, callers)))
"""


def _measure(info: dict[str, Any], tree: Path, kind: str, callers: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(info), str(callers), kind, str(tree)],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=str(tree)),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"the measure failed in {tree}:\n{done.stderr}")
    return float(done.stdout.split()[-1])


def _by_round(numerators: list[float], denominators: list[float]) -> str:
    return " ".join(f"{n / d:.2f}" for n, d in zip(numerators, denominators, strict=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    parser.add_argument("old", type=Path, help="the tree before the change")
    parser.add_argument("new", type=Path, help="the tree with the change")
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    old, new = args.old.resolve(), args.new.resolve()
    rates: dict[str, list[float]] = {"bare": [], "old": [], "new": []}
    with reference_server() as info:
        for _ in range(args.rounds):
            rates["bare"].append(_measure(info, old, "bare", args.callers))
            rates["old"].append(_measure(info, old, "sdk", args.callers))
            rates["new"].append(_measure(info, new, "sdk", args.callers))
    bare = rates["bare"]
    print(f"managed_accounts.get, {args.callers} callers, {args.rounds} rounds (calls/s)")
    for name in ("old", "new"):
        r = rates[name]
        print(
            f"  {name}: best {max(r):,.0f}, {max(r) / max(bare):.2f} of bare's best; "
            f"of bare by round: {_by_round(r, bare)}"
        )
    ahead = sum(n > o for n, o in zip(rates["new"], rates["old"], strict=True))
    print(
        f"  new / old by round: {_by_round(rates['new'], rates['old'])} "
        f"(new ahead in {ahead} of {args.rounds})"
    )


if __name__ == "__main__":
    main()
