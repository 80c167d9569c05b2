"""Run the benchmarks: `python -m benchmarks` (all, the targets first) or
`python -m benchmarks models walk`."""

from __future__ import annotations

import importlib
import sys

SUITES = ("targets", "floor", "calls", "models", "walk", "memory", "budget", "reconcile")


def main(argv: list[str]) -> int:
    chosen = argv or list(SUITES)
    for name in chosen:
        if name not in SUITES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
        importlib.import_module(f"benchmarks.bench_{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
