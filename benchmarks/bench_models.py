"""Per-entry cost of decoding statement entries: the choice of model representation.

Compares, on the same 500-entry page: bare JSON decoding (orjson, and the stdlib json), our
models (generated structure hooks in the cattrs converter), cattrs' default generated hooks on
the same classes, and frozen attrs classes; each with the cyclic GC running and paused.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, override

from weavr_async.models import StatementEntry, structure_many
from weavr_async.models._converter import to_camel

from ._table import print_table

PAGE_ENTRIES = 500


@attrs.define(slots=True)
class _Slotted:
    currency: str
    amount: int


@attrs.frozen(slots=True)
class _Frozen:
    currency: str
    amount: int


ROUNDS = 60


def sample_entry(i: int) -> dict[str, Any]:
    def amount(value: int) -> dict[str, Any]:
        return {"currency": "EUR", "amount": value}

    return {
        "transactionId": {"type": "SETTLEMENT", "id": str(10_000_000 + i)},
        "entryState": "COMPLETED",
        "originalAmount": amount(-1500),
        "forexRate": {"value": 10823, "scale": 4},
        "transactionAmount": amount(-1500),
        "availableBalanceAdjustment": amount(-1500),
        "actualBalanceAdjustment": amount(-1500),
        "balanceAfter": amount(100_000 - i),
        "availableBalanceAfter": amount(100_000 - i),
        "actualBalanceAfter": amount(100_000 - i),
        "transactionFee": amount(0),
        "processedTimestamp": 1_700_000_000_000 + i,
        "sourceAmount": amount(-1500),
        "additionalFields": {"merchantName": "ACME", "merchantCategoryCode": "5411"},
    }


def _per_entry(run: Callable[[], object], pause_gc: bool) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(ROUNDS // 5):
            if pause_gc:
                gc.disable()
            try:
                run()
            finally:
                gc.enable()
        best = min(best, time.perf_counter() - started)
    return best / (ROUNDS // 5) / PAGE_ENTRIES * 1e6


def main() -> dict[str, float]:
    page = orjson.dumps({"entry": [sample_entry(i) for i in range(PAGE_ENTRIES)]})
    naive = cattrs.Converter()  # cattrs defaults: detailed validation, its own generated hooks

    def camel_hook(cls: type) -> Any:
        renames = {f.name: override(rename=to_camel(f.name)) for f in attrs.fields(cls)}
        return make_dict_structure_fn(cls, naive, **renames)  # type: ignore[arg-type]

    naive.register_structure_hook_factory(attrs.has, camel_hook)

    cases: dict[str, Callable[[], object]] = {
        "json (stdlib) decode only": lambda: json.loads(page),
        "orjson decode only": lambda: orjson.loads(page),
        "orjson + weavr-async models": lambda: structure_many(
            orjson.loads(page)["entry"], StatementEntry
        ),
        "orjson + cattrs default hooks": lambda: [
            naive.structure(e, StatementEntry) for e in orjson.loads(page)["entry"]
        ],
    }
    results: dict[str, float] = {}
    gc_on: dict[str, float] = {}
    for name, run in cases.items():
        results[name] = _per_entry(run, pause_gc=True)
        gc_on[name] = _per_entry(run, pause_gc=False)
    bare = results["orjson decode only"]
    rows = [(n, gc_on[n], results[n], f"{bare / results[n]:.0%}") for n in cases]
    print_table(
        f"Decoding a {PAGE_ENTRIES}-entry statement page (µs per entry, best of 5)",
        ["decoder", "gc on", "gc paused", "speed vs orjson alone"],
        rows,
    )
    currency, value = "EUR", 1
    n = 200_000
    timings = []
    for label, cls in (("slotted attrs", _Slotted), ("frozen slotted attrs", _Frozen)):
        started = time.perf_counter()
        for _ in range(n):
            cls(currency, value)
        timings.append((label, (time.perf_counter() - started) / n * 1e9))
    print_table("Building one CurrencyAmount-like instance (ns)", ["class", "ns"], timings)
    return results


if __name__ == "__main__":
    main()
