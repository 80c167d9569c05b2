"""`bulks.wait`: polling a bulk process until it is final, against the simulator."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from weavr_async import (
    BackOffice,
    BulkProcessDetails,
    CurrencyAmount,
    Identity,
    IdentitySession,
    InstrumentRef,
    InvalidRequest,
    MalformedResponse,
    NewTransfer,
    WaitStalled,
    WaitTimeout,
)
from weavr_async.testing import FakeBackOffice

FAST = 0.01  # seconds between polls: the same loop, without the waiting


@pytest.fixture
def acme(bo: BackOffice, corp: Identity) -> IdentitySession:
    return bo.identity(corp)


async def submit_transfers(fake: FakeBackOffice, acme: IdentitySession, amounts: list[int]) -> str:
    """A SUBMITTED bulk process of one transfer per amount (an amount beyond the source's
    balance makes its transfer fail when it runs)."""
    source = fake.add_managed_account(acme.identity.id, currency="EUR", history=40)
    target = fake.add_managed_account(acme.identity.id, currency="EUR")
    transfers = [
        NewTransfer(
            profile_id="1",
            source=InstrumentRef.managed_account(source.id),
            destination=InstrumentRef.managed_account(target.id),
            destination_amount=CurrencyAmount("EUR", amount),
        )
        for amount in amounts
    ]
    submitted = await acme.bulks.create_transfers(transfers)
    assert submitted.bulk_id
    return submitted.bulk_id


def counts(bulk: BulkProcessDetails) -> dict[str | None, int | None]:
    return {c.status: c.count for c in bulk.operation_status_counts or []}


async def test_wait_polls_until_the_process_completes_reporting_each_reading(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    fake.bulk_auto_run = False
    bulk_id = await submit_transfers(fake, acme, [1, 2, 3, 4, 5])
    await acme.bulks.execute(bulk_id)
    readings: list[BulkProcessDetails] = []

    def progress(bulk: BulkProcessDetails) -> None:
        readings.append(bulk)
        fake.advance_bulks(2)  # the process moves on between two polls

    before = fake.count("bulkId")
    final = await acme.bulks.wait(bulk_id, poll=FAST, timeout=10.0, on_progress=progress)

    assert final.bulk_id == bulk_id
    assert final.status == "COMPLETED"
    assert counts(final)["COMPLETED"] == 5
    assert [b.status for b in readings] == ["RUNNING", "RUNNING", "RUNNING", "COMPLETED"]
    assert [counts(b)["COMPLETED"] for b in readings] == [0, 2, 4, 5]
    assert readings[-1] == final
    assert fake.count("bulkId") - before == 4  # one GET a reading, no more


@pytest.mark.parametrize(
    ("amounts", "mode", "final"),
    [
        ([1, 2], "ON_FAILURE_CONTINUE", "COMPLETED"),
        ([1, 10**12, 3], "ON_FAILURE_CONTINUE", "PARTIALLY_COMPLETED"),
        ([10**12, 1], "ON_FAILURE_STOP", "FAILED"),
    ],
)
async def test_wait_returns_a_final_process_after_one_reading(
    fake: FakeBackOffice,
    acme: IdentitySession,
    amounts: list[int],
    mode: str,
    final: str,
) -> None:
    bulk_id = await submit_transfers(fake, acme, amounts)
    await acme.bulks.execute(bulk_id, mode=mode)  # type: ignore[arg-type]
    before = fake.count("bulkId")

    bulk = await acme.bulks.wait(bulk_id, poll=60.0, timeout=10.0)

    assert bulk.status == final
    assert fake.count("bulkId") - before == 1


async def test_wait_returns_a_cancelled_process(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    fake.bulk_auto_run = False
    bulk_id = await submit_transfers(fake, acme, [1, 2, 3, 4])
    await acme.bulks.execute(bulk_id)
    fake.advance_bulks(1)
    waiting = asyncio.create_task(acme.bulks.wait(bulk_id, poll=FAST, timeout=10.0))
    await asyncio.sleep(5 * FAST)
    assert not waiting.done()

    await acme.bulks.cancel(bulk_id)
    bulk = await asyncio.wait_for(waiting, 5.0)

    assert bulk.status == "CANCELLED"
    assert counts(bulk) == {"SUBMITTED": 0, "RUNNING": 0, "COMPLETED": 1, "FAILED": 0,
                            "CANCELLED": 3}  # fmt: skip


async def test_wait_times_out_with_the_last_state_seen(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    fake.bulk_auto_run = False
    bulk_id = await submit_transfers(fake, acme, [1, 2])
    await acme.bulks.execute(bulk_id)
    started = time.monotonic()

    with pytest.raises(WaitTimeout) as caught:
        await acme.bulks.wait(bulk_id, poll=0.05, timeout=0.3)

    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    error = caught.value
    assert error.status == "RUNNING"
    assert error.waited >= 0.3
    assert isinstance(error.last, BulkProcessDetails)
    assert error.last.bulk_id == bulk_id
    assert f"bulk process {bulk_id}" in str(error)
    assert "last seen RUNNING" in str(error)
    assert 3 <= fake.count("bulkId") <= 8


async def test_wait_does_not_start_a_submitted_process(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    bulk_id = await submit_transfers(fake, acme, [1])

    with pytest.raises(WaitTimeout) as caught:
        await acme.bulks.wait(bulk_id, poll=0.05, timeout=0.2)

    assert caught.value.status == "SUBMITTED"
    assert fake.count("bulkIdExecute") == 0


async def test_the_timeout_bounds_a_request_in_flight(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    bulk_id = await submit_transfers(fake, acme, [1])
    fake.latency = 2.0  # every answer now takes longer than the whole wait may
    started = time.monotonic()

    with pytest.raises(WaitTimeout) as caught:
        await acme.bulks.wait(bulk_id, poll=FAST, timeout=0.3)

    assert time.monotonic() - started < 1.5
    assert caught.value.status is None
    assert caught.value.last is None
    assert "no state seen" in str(caught.value)


async def test_a_paused_process_stops_the_wait(fake: FakeBackOffice, acme: IdentitySession) -> None:
    fake.bulk_auto_run = False
    bulk_id = await submit_transfers(fake, acme, [1, 2, 3])
    await acme.bulks.execute(bulk_id)
    fake.advance_bulks(1)
    await acme.bulks.pause(bulk_id)
    before = fake.count("bulkId")

    with pytest.raises(WaitStalled) as caught:
        await acme.bulks.wait(bulk_id, poll=FAST, timeout=10.0)

    assert caught.value.status == "PAUSED"
    assert isinstance(caught.value.last, BulkProcessDetails)
    assert fake.count("bulkId") - before == 1  # stopped at the first reading


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"poll": 0}, "poll"),
        ({"poll": -1.0}, "poll"),
        ({"poll": math.nan}, "poll"),
        ({"poll": math.inf}, "poll"),
        ({"poll": True}, "poll"),
        ({"poll": "2"}, "poll"),
        ({"poll": None}, "poll"),
        ({"timeout": 0.0}, "timeout"),
        ({"timeout": -5}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": "600"}, "timeout"),
        ({"on_progress": "print"}, "on_progress"),
        ({"bulk_id": "12 OR 1=1"}, "bulk_id"),
        ({"bulk_id": ""}, "bulk_id"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    fake: FakeBackOffice, acme: IdentitySession, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"bulk_id": "123", **kwargs}
    with pytest.raises(InvalidRequest) as caught:
        await acme.bulks.wait(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert fake.requests == []


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"bulkId": "{id}", "status": "DONE"}, "'DONE'"),
        ({"bulkId": "{id}"}, "None"),
        ({"bulkId": "999", "status": "COMPLETED"}, "'999'"),
    ],
)
async def test_a_reading_that_cannot_be_believed_stops_the_wait(
    fake: FakeBackOffice, acme: IdentitySession, body: dict[str, str], complaint: str
) -> None:
    bulk_id = await submit_transfers(fake, acme, [1])
    answer = {k: v.replace("{id}", bulk_id) for k, v in body.items()}
    fake.faults.script(200, count=1, operation_id="bulkId", body=answer)

    with pytest.raises(MalformedResponse, match=complaint):
        await acme.bulks.wait(bulk_id, poll=FAST, timeout=10.0)


async def test_a_timeout_raised_by_the_callback_is_not_the_waits(
    fake: FakeBackOffice, acme: IdentitySession
) -> None:
    bulk_id = await submit_transfers(fake, acme, [1])

    def progress(bulk: BulkProcessDetails) -> None:
        raise TimeoutError("the caller's own")

    with pytest.raises(TimeoutError, match="the caller's own") as caught:
        await acme.bulks.wait(bulk_id, poll=FAST, timeout=10.0, on_progress=progress)
    assert not isinstance(caught.value, WaitTimeout)
