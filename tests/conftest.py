"""Shared fixtures: a simulator on 127.0.0.1 and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from contract import make_request_validator

from weavr_async import BackOffice, Identity, Retry
from weavr_async.testing import FakeBackOffice

# Retries in tests wait milliseconds, not seconds: same code path, shorter sleeps.
FAST_RETRY = Retry(max_attempts=4, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=1.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBackOffice]:
    """The simulator in strict mode: any request that breaks the contract in spec/ is answered
    400 with the violation, so an SDK call that drifts from the contract fails its test."""
    async with FakeBackOffice(seed=7, request_validator=make_request_validator()) as server:
        yield server


@pytest.fixture
async def bo(fake: FakeBackOffice) -> AsyncIterator[BackOffice]:
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, retry=FAST_RETRY, timeout=5.0
    ) as client:
        yield client


@pytest.fixture
def corp(fake: FakeBackOffice) -> Identity:
    seeded = fake.add_identity("CORPORATE")
    return Identity.corporate(seeded.id)
