"""Large histories: seeded quickly, kept compact, served a page at a time in milliseconds."""

from __future__ import annotations

import gc
import time
import tracemalloc

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api


async def test_a_page_deep_in_a_large_history_is_fast(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    t0 = time.perf_counter()
    acct = sim.add_managed_account(corp, history=200_000)
    assert time.perf_counter() - t0 < 2.0
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    params = {"statementLimit": 500, "offset": 100_000}
    await api.call("GET", path, params=params, check=False)
    t0 = time.perf_counter()
    for _ in range(10):
        r = await api.call("GET", path, params=params, check=False)
    per_page = (time.perf_counter() - t0) / 10
    assert r.json["responseCount"] == 500
    assert r.json["count"] == 200_000
    assert per_page < 0.05
    filtered = await api.call(
        "GET", path, params={**params, "transactionType": "DEPOSIT", "offset": 1000}, check=False
    )
    assert filtered.json["responseCount"] == 500


async def test_a_million_entry_history_is_seeded_and_served_in_seconds(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    t0 = time.perf_counter()
    acct = sim.add_managed_account(corp, history=1_000_000)
    assert time.perf_counter() - t0 < 5.0
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    r = await api.call("GET", path, params={"statementLimit": 500, "offset": 999_800}, check=False)
    assert r.json["responseCount"] == 200
    assert r.json["count"] == 1_000_000
    assert r.json["startBalance"]["amount"] == 0
    assert r.json["endBalance"]["amount"] == sim.instrument_balance(acct)


def test_a_seeded_history_keeps_under_40_bytes_an_entry() -> None:
    # All the memory a history keeps, measured (tracing slows seeding about 30 times, hence
    # 50,000 entries rather than a million).
    fake = FakeBackOffice(seed=3)
    corp = fake.add_identity("CORPORATE")
    fake.add_managed_account(corp, history=10)  # what the first instrument sets up, set up
    entries = 50_000
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        acct = fake.add_managed_account(corp, history=entries)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(fake.ledger(acct)) == entries
    assert kept / entries < 40
