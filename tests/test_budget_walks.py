"""Walks under the API budget: within it they meet no 429; when it runs out they stop with a
checkpoint, and resuming later finishes the same snapshot exactly."""

from __future__ import annotations

import pytest
from conftest import FAST_RETRY

from weavr_async import BackOffice, BudgetExhausted, Identity, RateBudget, Retry, WalkPlan
from weavr_async.testing import FakeBackOffice


def ids(entries: list[dict[str, object]]) -> list[object]:
    return [e["transactionId"] for e in entries]


async def test_a_walk_within_the_budget_meets_no_429(fake: FakeBackOffice, corp: Identity) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=2_000)
    fake.set_rate_limits([(10, 0.5), (30, 2.0)])  # the API's windows, scaled down in time
    budget = RateBudget([(10, 0.55), (30, 2.2)])  # the same, 10% wider: starts travel
    async with BackOffice(fake.api_key, base_url=fake.url, retry=FAST_RETRY, budget=budget) as bo:
        stream = bo.identity(corp).managed_accounts.statement(
            account.id, order="ASC", page_size=100, concurrency=8
        )
        got = [e.transaction_id.id async for e in stream]
        assert bo.stats.rate_limited == 0
        assert bo.stats.rate_limit_wait_seconds > 0  # it did have to pace
    fake.set_rate_limits(None)
    assert fake.faults.injected["rate_limiter"] == 0
    assert got == [e["transactionId"]["id"] for e in fake.ledger(account)]


async def test_an_exhausted_budget_stops_the_walk_with_its_checkpoint_and_the_rest_resumes(
    fake: FakeBackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_000)
    expected = [e["transactionId"]["id"] for e in fake.ledger(account)]
    retry = Retry(max_attempts=3, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=0.5)
    budget = RateBudget([(5, 60.0)])  # five requests a minute
    got: list[str] = []
    plans: list[WalkPlan] = []
    async with BackOffice(fake.api_key, base_url=fake.url, retry=retry, budget=budget) as bo:
        stream = bo.identity(corp).managed_accounts.statement(
            account.id, order="ASC", page_size=100, concurrency=1
        )

        async def walk() -> None:
            async for entry in stream:
                got.append(entry.transaction_id.id)
                plan = stream.plan()
                assert isinstance(plan, WalkPlan)
                plans.append(plan)

        with pytest.raises(BudgetExhausted) as caught:
            await walk()
        stopped = caught.value
    assert 59 < stopped.retry_after <= 60
    assert stopped.window == (5, 60.0)
    # Five requests: the token, the probe that pins the snapshot's newest entry, three pages.
    assert stopped.checkpoint is not None
    assert stopped.checkpoint.yielded == len(got) == 300
    # Its plan said what the rest needs: seven page requests, a minute away under that budget.
    plan = plans[-1]
    assert plan.requests == 7
    assert plan.entries == 700
    assert plan.seconds >= 59
    # Later (the budget has returned), new transactions meanwhile: the rest of that snapshot.
    fake.post_transactions(account, 5)
    saved = stopped.checkpoint.to_json()
    async with BackOffice(
        fake.api_key, base_url=fake.url, retry=FAST_RETRY, budget=RateBudget.unlimited()
    ) as bo:
        from weavr_async import Checkpoint

        rest = bo.identity(corp).managed_accounts.statement(
            account.id,
            order="ASC",
            page_size=100,
            concurrency=1,
            checkpoint=Checkpoint.from_json(saved),
        )
        got += [e.transaction_id.id async for e in rest]
    assert got == expected


async def test_plan_is_none_before_the_first_page(bo: BackOffice, corp: Identity) -> None:
    stream = bo.identity(corp).managed_accounts.statement("1", page_size=100)
    assert stream.plan() is None
