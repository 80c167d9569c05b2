"""Storms of concurrent walks and writes under injected faults: nothing lost, nothing
duplicated, nothing applied twice, every failure typed, nothing left running."""

from __future__ import annotations

import asyncio

from weavr_async.testing import FakeBackOffice

from ._storm import BURST, HOSTILE, REALISTIC, run_storm
from .conftest import Figures

STORM_DEADLINE = 60.0


async def test_realistic_fault_rate_everything_succeeds_exactly_once(
    chaos_fake: FakeBackOffice, chaos_figures: Figures
) -> None:
    storm = await asyncio.wait_for(run_storm(chaos_fake, REALISTIC), STORM_DEADLINE)
    chaos_figures[REALISTIC.name] = storm.figures
    assert storm.problems == []
    # A patient client outlasts ~4% of faults: every walk in one go, every write the first
    # time (block/unblock may fail: they are not repeated once they may have been applied).
    assert storm.resumes == 0
    assert storm.reissued == 0
    assert storm.burst == (BURST, BURST)
    injected = chaos_fake.faults.injected
    for kind in ("error", "rate_limiter", "drop", "drop_after_commit", "malformed"):
        assert injected[kind] > 0, f"no {kind} fault was injected: the storm proved nothing"
    assert storm.bo.stats.retries > 0
    assert storm.bo.stats.rate_limited > 0
    assert storm.bo.stats.token_refreshes > 0


async def test_hostile_fault_rate_fails_typed_and_never_double_applies(
    chaos_fake: FakeBackOffice, chaos_figures: Figures
) -> None:
    storm = await asyncio.wait_for(run_storm(chaos_fake, HOSTILE), STORM_DEADLINE)
    chaos_figures[HOSTILE.name] = storm.figures
    assert storm.problems == []
    # A short retry gives up under ~27% faults: some calls surfaced (typed) errors, walks
    # resumed from their checkpoints, and failed writes were re-issued under their refs.
    assert storm.resumes > 0
    assert storm.reissued > 0
    assert sum(storm.tally.typed.values()) > 0
    injected = chaos_fake.faults.injected
    for kind in ("error", "rate_limit", "drop", "drop_after_commit", "malformed", "slow"):
        assert injected[kind] > 0, f"no {kind} fault was injected: the storm proved nothing"
