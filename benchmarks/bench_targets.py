"""The four ratios the SDK is held to, side by side in one run: `python -m benchmarks targets`.

- `managed_accounts.get` through the SDK against bare aiohttp + orjson, 1 caller and 64
  concurrent callers (calls/s), against the reference server (_reference.py);
- a walk of a 200,000-entry statement, pages of 500, 16 in flight, with `stream.raw()` and
  with typed models, against the ceiling: bare aiohttp + orjson fetching the same pages
  (entries/s), served by the simulator behind its caching front (_prerendered.py), whose
  cache is filled by one untimed round of each walk and checked to answer every timed request.

Every measure runs once per round, the rounds interleaved so that noise from the rest of the
machine falls on all of them alike; a ratio is the SDK's best round over bare aiohttp's best.
Below the table: the gap between each measure's best and worst round, the ratio of each
round, and what the caching front served. Both servers run in child processes, idle but for
the measure at hand, so the client has a core of its own.
"""

from __future__ import annotations

from typing import NamedTuple

from ._prerendered import cache_stats, prerendered, timed_report
from ._reference import reference_server
from ._rounds import Measure, Rates, best, interleaved, spread
from ._table import print_table
from .bench_calls import SECONDS, call_measures, label
from .bench_walk import CEILING, ENTRIES, PAGE, RAW, TYPED, walk_measures

ROUNDS = 7  # a round is about 12 s: 4 calls measures of 2 s, 3 walks of about a second


class Target(NamedTuple):
    measure: str
    sdk: str  # the names of its two measures in the round
    bare: str
    target: float


CALLERS = (1, 64)
TARGETS = (
    Target(f"{label(1)} (calls/s)", "get 1 SDK", "get 1 bare", 0.95),
    Target(f"{label(64)} (calls/s)", "get 64 SDK", "get 64 bare", 0.90),
    Target(
        f"{ENTRIES // 1000}k-entry statement, stream.raw(), 16 in flight (entries/s)",
        RAW,
        CEILING,
        0.95,
    ),
    Target("same, typed models (entries/s)", TYPED, CEILING, 0.60),
)


def main() -> None:
    with reference_server() as reference, prerendered(ENTRIES) as front:
        walks = walk_measures(front)
        interleaved(walks, 1)  # untimed: every page any walk asks for is rendered and kept
        warm = cache_stats(front)
        measures: dict[str, Measure] = {}
        for callers in CALLERS:
            for kind, measure in call_measures(reference, callers).items():
                measures[f"get {callers} {kind}"] = measure
        measures.update(walks)
        rates = interleaved(measures, ROUNDS)
        served = cache_stats(front)
    rows = []
    for t in TARGETS:
        sdk, bare = best(rates[t.sdk]), best(rates[t.bare])
        ratio = sdk / bare
        met = "yes" if ratio >= t.target else "no"
        rows.append((t.measure, round(sdk), round(bare), f"{ratio:.2f}", f">= {t.target:.2f}", met))
    print_table(
        f"Targets: the SDK against bare aiohttp + orjson, one run, best of {ROUNDS} "
        f"interleaved rounds (calls: {SECONDS:.0f} s each; walks: pages of {PAGE}, "
        "pre-rendered server)",
        ["measure", "SDK", "bare aiohttp + orjson", "ratio", "target", "met"],
        rows,
    )
    print(f"\nNoise in this run (best vs worst of {ROUNDS} rounds):")
    for t in TARGETS:
        print(f"  {t.measure}: {_noise(rates[t.sdk], rates[t.bare])}")
    print(timed_report(warm, served))


def _noise(sdk: Rates, bare: Rates) -> str:
    per_round = [s / b for s, b in zip(sdk, bare, strict=True)]
    return (
        f"SDK spread {spread(sdk):.0%}, bare spread {spread(bare):.0%}; "
        f"ratio by round {min(per_round):.2f}-{max(per_round):.2f}"
    )


if __name__ == "__main__":
    main()
