"""Per-entry cost of decoding statement entries: the choice of model representation.

Compares, on the same 500-entry page: bare JSON decoding (orjson, and the stdlib json), our
models (generated structure hooks in the cattrs converter), cattrs' default generated hooks on
the same classes, and frozen attrs classes; each with the cyclic GC running and paused. Then
our models on a page of the simulator's own statement (the entries the walk benchmark serves:
fewer amounts repeated than in the synthetic page, so fewer shared), with the collection that
follows a page's decoding in a walk (the page's models alive) counted in.
"""

from __future__ import annotations

import gc
import json
import random
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


_new = object.__new__
_set_currency = _Frozen.__dict__["currency"].__set__
_set_amount = _Frozen.__dict__["amount"].__set__


def _frozen_by_slots(currency: str, amount: int) -> _Frozen:
    """How decoding builds a frozen CurrencyAmount (models/_shared.py): slots set directly."""
    made: _Frozen = _new(_Frozen)
    _set_currency(made, currency)
    _set_amount(made, amount)
    return made


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
    simulator_table()
    currency, value = "EUR", 1
    n = 200_000
    timings = []
    builders: tuple[tuple[str, Callable[[str, int], object]], ...] = (
        ("slotted attrs", _Slotted),
        ("frozen slotted attrs", _Frozen),
        ("frozen slotted attrs, slots set directly", _frozen_by_slots),
    )
    for label, build in builders:
        started = time.perf_counter()
        for _ in range(n):
            build(currency, value)
        timings.append((label, (time.perf_counter() - started) / n * 1e9))
    print_table("Building one CurrencyAmount-like instance (ns)", ["class", "ns"], timings)
    return results


def simulator_page() -> bytes:
    """A page of the simulator's statement of an EUR account, as the API sends it."""
    from weavr_async.testing._history import Ledger  # the simulator's ledger, seeded

    ledger = Ledger("EUR", random.Random(42), is_card=False)
    ledger.seed(2 * PAGE_ENTRIES, 1_800_000_000_000, 1)
    return orjson.dumps({"entry": [ledger.entry(i) for i in range(PAGE_ENTRIES, 2 * PAGE_ENTRIES)]})


def simulator_table() -> None:
    page = simulator_page()

    def models_then_collect() -> None:
        models = structure_many(orjson.loads(page)["entry"], StatementEntry)
        gc.enable()
        gc.collect(0)  # what a walk pays once the page is decoded and its models alive
        del models

    rows = [
        ("orjson decode only", _per_entry(lambda: orjson.loads(page), pause_gc=True)),
        (
            "orjson + weavr-async models",
            _per_entry(
                lambda: structure_many(orjson.loads(page)["entry"], StatementEntry),
                pause_gc=True,
            ),
        ),
        ("orjson + models, then the collection", _per_entry(models_then_collect, True)),
    ]
    print_table(
        f"Decoding a {PAGE_ENTRIES}-entry page of the simulator's statement (µs per entry, "
        "gc paused, best of 5)",
        ["decoder", "µs"],
        rows,
    )


if __name__ == "__main__":
    main()
