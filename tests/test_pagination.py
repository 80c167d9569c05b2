"""The pagination engine against the simulator: exact, ordered, concurrent, bounded, resumable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import pytest

from weavr_async import (
    BackOffice,
    Checkpoint,
    Identity,
    InvalidRequest,
    MalformedResponse,
    Progress,
    RateBudget,
    Retry,
    Transfer,
)
from weavr_async._pagination import PAGE_TASK_NAME
from weavr_async.testing import FakeBackOffice

Order = Literal["ASC", "DESC"]


def ids(entries: list[dict[str, object]]) -> list[str]:
    return [e["transactionId"]["id"] for e in entries]  # type: ignore[index]


def page_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == PAGE_TASK_NAME]


@pytest.fixture
async def traced() -> AsyncIterator[tuple[aiohttp.ClientSession, dict[str, int]]]:
    """A session that counts requests in flight, through aiohttp's own tracing hooks."""
    counts = {"now": 0, "peak": 0}
    trace = aiohttp.TraceConfig()

    async def started(*_: object) -> None:
        counts["now"] += 1
        counts["peak"] = max(counts["peak"], counts["now"])

    async def ended(*_: object) -> None:
        counts["now"] -= 1

    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    trace.on_request_exception.append(ended)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        yield session, counts


@pytest.mark.parametrize("order", ["ASC", "DESC"])
async def test_account_statement_walk_is_exact_and_ordered(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, order: Order
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=2_345)
    expected = ids(fake.ledger(account))
    if order == "DESC":
        expected.reverse()
    stream = bo.identity(corp).managed_accounts.statement(
        account.id,
        order=order,
        page_size=200,
        concurrency=5,
    )
    got = [e.transaction_id.id async for e in stream]
    assert got == expected
    assert stream.progress.items == stream.progress.total == 2_345


async def test_pages_are_fetched_concurrently_up_to_the_stream_limit(
    fake: FakeBackOffice, corp: Identity, traced: tuple[aiohttp.ClientSession, dict[str, int]]
) -> None:
    session, counts = traced
    account = fake.add_managed_account(corp.id, currency="EUR", history=3_000)
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, session=session, budget=RateBudget.unlimited()
    ) as client:
        await client.identity(corp).managed_accounts.get(account.id)
        fake.latency = 0.02
        stream = client.identity(corp).managed_accounts.statement(
            account.id, page_size=100, concurrency=6
        )
        entries = await stream.collect()
    assert len(entries) == 3_000
    assert counts["peak"] == 6


async def test_client_wide_cap_bounds_many_streams_together(
    fake: FakeBackOffice, corp: Identity, traced: tuple[aiohttp.ClientSession, dict[str, int]]
) -> None:
    session, counts = traced
    accounts = [fake.add_managed_account(corp.id, currency="EUR", history=800) for _ in range(4)]
    async with BackOffice(
        api_key=fake.api_key,
        base_url=fake.url,
        session=session,
        max_concurrency=5,
        budget=RateBudget.unlimited(),
    ) as client:
        acme = client.identity(corp)
        fake.latency = 0.01
        walks = [
            acme.managed_accounts.statement(a.id, page_size=50, concurrency=8).collect()
            for a in accounts
        ]
        results = await asyncio.gather(*walks)
    assert [len(r) for r in results] == [800] * 4
    assert counts["peak"] == 5


async def test_a_stalled_consumer_holds_the_fetching_back(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=5_000)
    await bo.identity(corp).managed_accounts.get(account.id)
    stream = bo.identity(corp).managed_accounts.statement(account.id, page_size=100, concurrency=3)
    items = stream.__aiter__()
    await items.__anext__()
    await asyncio.sleep(0.3)
    # The first page, and no more than `concurrency` pages ahead of the consumer.
    assert fake.count("managedAccountStatement") == 1 + 3
    await items.aclose()
    assert page_tasks() == []


async def test_walk_survives_new_transactions_arriving(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_500)
    # Three transactions arrive before the simulator serves each statement request: the walk's
    # snapshot is the ledger as its first request saw it, 1,503 entries, newest first.
    fake.arrivals_per_statement_request = 3
    stream = bo.identity(corp).managed_accounts.statement(account.id, page_size=100)
    got = [e.transaction_id.id async for e in stream]
    ledger = ids(fake.ledger(account))
    assert got == list(reversed(ledger[:1_503]))
    assert len(ledger) == 1_500 + 3 * 16  # 16 pages, one request each: arrivals kept coming
    assert stream.progress.repairs == 0


async def test_ascending_walk_excludes_arrivals_too(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    card = fake.add_managed_card(corp.id, currency="EUR", history=700)
    fake.arrivals_per_statement_request = 2
    got = [
        e.transaction_id.id
        async for e in bo.identity(corp).managed_cards.statement(card.id, order="ASC")
    ]
    ledger = ids(fake.ledger(card))
    # The snapshot is pinned by the walk's first request (a one-entry probe for ASC walks).
    assert got == ledger[:702]
    assert len(ledger) > 702


async def test_transfers_walk_is_a_snapshot(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    fake.add_managed_account(corp.id, currency="EUR", history=50)
    fake.add_managed_account(corp.id, currency="EUR", history=50)
    fake.add_transfers(corp.id, count=450)
    first = [t.id async for t in bo.identity(corp).transfers.list(concurrency=4)]
    assert len(first) == len(set(first)) == 450
    fake.arrivals_per_transfers_request = 2
    second = [t.id async for t in bo.identity(corp).transfers.list(concurrency=4)]
    # The first request of the walk saw two new transfers (newest first); the later ones
    # arrived after it and are not part of the snapshot.
    assert second[2:] == first
    assert len(set(second[:2]) - set(first)) == 2
    third = [t.id async for t in bo.identity(corp).transfers.list(concurrency=4)]
    assert len(third) > len(second)
    assert third[-450:] == first


async def test_walk_is_exact_under_faults(fake: FakeBackOffice, corp: Identity) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=3_000)
    expected = ids(fake.ledger(account))
    fake.faults.script(status=503, count=3, operation_id="managedAccountStatement")
    fake.faults.script_rate_limit(count=2, reset=0, operation_id="managedAccountStatement")
    fake.faults.script_drop(count=2, operation_id="managedAccountStatement")
    fake.faults.script_malformed(count=1, kind="truncated", operation_id="managedAccountStatement")
    patient = Retry(max_attempts=12, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=0.05)
    async with BackOffice(
        api_key=fake.api_key,
        base_url=fake.url,
        retry=patient,
        timeout=5,
        budget=RateBudget.unlimited(),
    ) as client:
        stream = client.identity(corp).managed_accounts.statement(
            account.id, order="ASC", page_size=250, concurrency=4
        )
        got = [e.transaction_id.id async for e in stream]
        # Every scripted fault was met (aiohttp itself may silently repeat a GET whose reused
        # keep-alive connection was dropped, so the SDK saw at least the other seven).
        assert fake.faults.pending == 0
        assert client.stats.retries >= 7
    assert got == expected


async def test_checkpoint_resumes_exactly_the_rest(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_000)
    expected = list(reversed(ids(fake.ledger(account))))
    acme = bo.identity(corp)
    stream = acme.managed_accounts.statement(account.id, page_size=100, concurrency=3)
    seen: list[str] = []
    async for entry in stream:
        seen.append(entry.transaction_id.id)
        if len(seen) == 437:
            break
    saved = stream.checkpoint.to_json()
    assert stream.checkpoint.yielded == 437
    fake.post_transactions(account, 25)  # arrivals between the two runs
    resumed = acme.managed_accounts.statement(
        account.id, page_size=100, concurrency=3, checkpoint=Checkpoint.from_json(saved)
    )
    rest = [e.transaction_id.id async for e in resumed]
    assert seen + rest == expected


async def test_checkpoint_from_pages_mode_and_raw_mode(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=900)
    expected = ids(fake.ledger(account))
    acme = bo.identity(corp)
    stream = acme.managed_accounts.statement(account.id, order="ASC", page_size=200)
    first: list[str] = []
    async for page in stream.pages():
        first.extend(e.transaction_id.id for e in page.items)
        assert page.count == 900
        assert page.response_count == len(page.items)
        assert page.start_balance is not None
        assert page.end_balance is not None
        break
    resumed = acme.managed_accounts.statement(
        account.id, order="ASC", page_size=200, checkpoint=stream.checkpoint
    )
    rest = ids([e async for e in resumed.raw()])
    assert first + rest == expected


async def test_checkpoint_must_match_the_call(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=10)
    acme = bo.identity(corp)
    stream = acme.managed_accounts.statement(account.id, order="ASC")
    await stream.collect()
    with pytest.raises(InvalidRequest, match="checkpoint"):
        acme.managed_accounts.statement(account.id, order="DESC", checkpoint=stream.checkpoint)
    with pytest.raises(InvalidRequest, match=r"not a version-1 .* checkpoint \(version 99\)"):
        Checkpoint.from_json('{"version": 99}')


async def test_cancelled_walks_leak_no_task_or_connection(
    fake: FakeBackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=4_000)
    connector = aiohttp.TCPConnector(limit=4)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        BackOffice(
            api_key=fake.api_key, base_url=fake.url, session=session, budget=RateBudget.unlimited()
        ) as client,
    ):
        acme = client.identity(corp)
        await acme.managed_accounts.get(account.id)
        fake.latency = 0.05

        async def consume() -> None:
            async for _ in acme.managed_accounts.statement(account.id, concurrency=4, page_size=50):
                await asyncio.sleep(0)

        for _ in range(3):
            task = asyncio.create_task(consume())
            await asyncio.sleep(0.12)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await asyncio.sleep(0.01)
        assert page_tasks() == []
        # Had a connection leaked, this walk would starve on the 4-connection pool.
        fake.latency = 0.0
        whole = await asyncio.wait_for(
            acme.managed_accounts.statement(account.id, concurrency=4).collect(), timeout=10
        )
        assert len(whole) == 4_000


async def test_breaking_out_closes_the_walk(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=2_000)
    fake.latency = 0.02
    stream = bo.identity(corp).managed_accounts.statement(account.id, page_size=100)
    pages = stream.pages()
    async for _ in pages:
        break
    await pages.aclose()
    assert page_tasks() == []


async def test_progress_is_reported_per_page(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_050)
    reports: list[tuple[int, int, int | None]] = []

    def record(progress: Progress) -> None:
        reports.append((progress.items, progress.pages, progress.total))

    await (
        bo.identity(corp)
        .managed_accounts.statement(account.id, page_size=500, on_progress=record)
        .collect()
    )
    assert reports == [(500, 1, 1_050), (1_000, 2, 1_050), (1_050, 3, 1_050)]


async def test_page_size_is_checked_against_each_endpoints_cap(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    acme = bo.identity(corp)
    acme.managed_accounts.statement("1", page_size=500)
    with pytest.raises(InvalidRequest) as accounts:
        acme.managed_accounts.statement("1", page_size=501)
    assert accounts.value.field == "page_size"
    with pytest.raises(InvalidRequest):
        acme.managed_cards.statement("1", page_size=101)
    with pytest.raises(InvalidRequest):
        acme.transfers.list(page_size=0)
    with pytest.raises(InvalidRequest):
        acme.bulks.list(page_size=101)
    with pytest.raises(InvalidRequest):
        acme.managed_accounts.statement("1", concurrency=0)
    assert fake.requests == []


@pytest.mark.parametrize("order", ["ASC", "DESC"])
async def test_back_dated_postings_behind_the_cursor_are_not_duplicated(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, order: Order
) -> None:
    """Postings inserted into the part already walked shift every later offset; the walk
    notices the changed count and repairs instead of yielding entries twice."""
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_000)
    ledger = fake.ledger(account)
    snapshot = ids(ledger) if order == "ASC" else list(reversed(ids(ledger)))
    walked_region = ledger[100] if order == "ASC" else ledger[-100]
    stream = bo.identity(corp).managed_accounts.statement(
        account.id,
        order=order,
        page_size=100,
        concurrency=2,
    )
    got: list[str] = []
    async for entry in stream:
        got.append(entry.transaction_id.id)
        if len(got) == 250:
            fake.post_transactions(account, 5, at=walked_region["processedTimestamp"])
    assert got == snapshot
    assert stream.progress.repairs >= 1


@pytest.mark.parametrize("order", ["ASC", "DESC"])
async def test_back_dated_postings_ahead_of_the_cursor_are_included_once(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, order: Order
) -> None:
    """The documented limit: a posting back-dated into the part not yet walked is part of
    what the walk finds there, once, in its place."""
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_000)
    ledger = fake.ledger(account)
    ahead = ledger[-100] if order == "ASC" else ledger[100]
    stream = bo.identity(corp).managed_accounts.statement(
        account.id,
        order=order,
        page_size=100,
        concurrency=2,
    )
    got: list[str] = []
    async for entry in stream:
        got.append(entry.transaction_id.id)
        if len(got) == 250:
            fake.post_transactions(account, 3, at=ahead["processedTimestamp"])
    final = ids(fake.ledger(account))
    assert got == (final if order == "ASC" else list(reversed(final)))
    assert len(got) == len(set(got)) == 1_003
    assert stream.progress.repairs >= 1


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_bulk_list_walk_repairs_when_new_bulks_arrive_first(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity, concurrency: int
) -> None:
    """Bulk processes have no time filter to pin: new ones arrive at the front and shift the
    offsets; the walk shifts with them and skips the overlap."""
    from weavr_async import CurrencyAmount, InstrumentRef, NewTransfer

    source = fake.add_managed_account(corp.id, currency="EUR", history=10)
    target = fake.add_managed_account(corp.id, currency="EUR")
    acme = bo.identity(corp)
    one = [
        NewTransfer(
            profile_id="1",
            source=InstrumentRef.managed_account(source.id),
            destination=InstrumentRef.managed_account(target.id),
            destination_amount=CurrencyAmount("EUR", 1),
        )
    ]

    async def submit() -> str:
        submitted = await acme.bulks.create_transfers(one)
        assert submitted.bulk_id is not None
        return submitted.bulk_id

    existing = [await submit() for _ in range(230)]
    got: list[str] = []
    stream = acme.bulks.list(page_size=50, concurrency=concurrency)
    async for bulk in stream:
        assert bulk.bulk_id is not None
        got.append(bulk.bulk_id)
        # Within the first page: the last page is launched only after the arrivals, so the
        # walk meets the changed count whatever its concurrency (up to 3).
        if len(got) == 10:
            for _ in range(7):
                await submit()
    assert sorted(got) == sorted(existing)
    assert len(got) == len(set(got)) == 230
    assert stream.progress.repairs >= 1


def test_a_walk_left_open_at_loop_shutdown_closes_quietly() -> None:
    """asyncio.run closes every unfinished async generator at shutdown; a walk abandoned
    mid-way must cancel its pages then without the loop reporting any error."""
    reported: list[dict[str, object]] = []
    kept: list[object] = []

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: reported.append(ctx))
        async with FakeBackOffice(seed=3) as fake:
            ident = fake.add_identity("CORPORATE")
            account = fake.add_managed_account(ident, currency="EUR", history=3_000)
            client = BackOffice(
                api_key=fake.api_key, base_url=fake.url, budget=RateBudget.unlimited()
            )
            stream = client.identity(Identity.corporate(ident.id)).managed_accounts.statement(
                account.id, page_size=100, concurrency=4
            )
            walk = stream.raw()
            await walk.__anext__()
            kept.extend([walk, client])  # still referenced when the loop shuts down

    asyncio.run(scenario())
    assert reported == []


@pytest.mark.parametrize(
    ("kind", "order"),
    [
        ("account", "ASC"),
        ("account", "DESC"),
        ("card", "ASC"),
        ("card", "DESC"),
        ("transfers", "DESC"),
    ],
)
async def test_every_entry_once_in_order_with_faults_and_arrivals(
    fake: FakeBackOffice, corp: Identity, kind: str, order: Order
) -> None:
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_200)
    card = fake.add_managed_card(corp.id, currency="EUR", history=900)
    fake.add_transfers(corp.id, count=640)
    patient = Retry(max_attempts=12, base_delay=0.001, max_delay=0.01, max_rate_limit_wait=0.02)
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, retry=patient, budget=RateBudget.unlimited()
    ) as client:
        acme = client.identity(corp)
        await acme.managed_accounts.get(account.id)
        fake.faults.error_rate = 0.15
        fake.faults.rate_limit_rate = 0.08
        fake.faults.rate_limit_reset = 0  # (each would pause the client for its reset)
        fake.faults.malformed_rate = 0.08
        fake.arrivals_per_statement_request = 2
        fake.arrivals_per_transfers_request = 2
        if kind == "transfers":
            got = [t.id async for t in acme.transfers.list(page_size=50, concurrency=4)]
        else:
            resource = acme.managed_accounts if kind == "account" else acme.managed_cards
            instrument_id = account.id if kind == "account" else card.id
            stream = resource.statement(
                instrument_id,
                order=order,
                page_size=50,
                concurrency=4,
            )
            got = [e.transaction_id.id async for e in stream]
        fake.faults.clear()
    assert sum(fake.faults.injected.values()) >= 2  # the faults really happened
    if kind == "transfers":
        listing = [t.id async for t in client_list(fake, corp)]
        # The snapshot: what the walk's first request saw, i.e. all but the arrivals after it.
        assert got == listing[len(listing) - len(got) :]
        assert len(got) == len(set(got)) >= 640
    else:
        ledger = ids(fake.ledger(account if kind == "account" else card))
        seen = ledger[: len(got)]
        assert got == (seen if order == "ASC" else list(reversed(seen)))
        assert len(ledger) > len(got) >= (1_200 if kind == "account" else 900)


async def client_list(fake: FakeBackOffice, corp: Identity) -> AsyncIterator[Transfer]:
    async with BackOffice(
        api_key=fake.api_key, base_url=fake.url, budget=RateBudget.unlimited()
    ) as client:
        async for transfer in client.identity(corp).transfers.list():
            yield transfer


async def test_pages_capped_below_the_asked_size_are_walked_in_full(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    """An API serving fewer entries than asked (though more remain) sets the walk's step."""
    account = fake.add_managed_account(corp.id, currency="EUR", history=1_234)
    fake.page_cap = 100
    stream = bo.identity(corp).managed_accounts.statement(account.id, order="ASC", page_size=500)
    got = [e.transaction_id.id async for e in stream]
    assert got == ids(fake.ledger(account))
    assert stream.progress.pages == 13
    assert stream.progress.repairs == 0


async def test_a_result_that_never_matches_its_count_fails_instead_of_looping(
    fake: FakeBackOffice, bo: BackOffice, corp: Identity
) -> None:
    """A broken answer (entries counted but none served) can never be walked exactly: the
    walk must end with a typed error rather than repair forever."""
    account = fake.add_managed_account(corp.id, currency="EUR", history=600)
    acme = bo.identity(corp)
    fake.page_cap = 0
    with pytest.raises(MalformedResponse, match="600 entries counted, none served"):
        await acme.managed_accounts.statement(account.id, page_size=100).collect()
    # Past the pinning page, a segment whose pages never hold what their count promises.
    fake.page_cap = None
    stream = acme.managed_accounts.statement(account.id, page_size=100)
    pages = stream.pages()
    await pages.__anext__()
    fake.page_cap = 0
    with pytest.raises(MalformedResponse, match="changed on every page"):
        await asyncio.wait_for(pages.__anext__(), timeout=20)
    assert stream.progress.repairs == 26


async def test_back_dating_on_every_request_still_ends_with_every_entry_once(
    corp: Identity,
) -> None:
    """Each statement request back-dates a posting into the part not yet walked: every page
    after the first sees a changed count; the walk repairs each time, and still ends."""
    holder: dict[str, Any] = {}

    def backdate_on_every_statement(request: Any) -> None:
        if request.operation_id == "managedAccountStatement":
            holder["fake"].post_transactions(holder["account"], 1, at=holder["at"])

    async with FakeBackOffice(seed=5, request_validator=backdate_on_every_statement) as fake:
        ident = fake.add_identity("CORPORATE")
        account = fake.add_managed_account(ident, currency="EUR", history=600)
        before = set(ids(fake.ledger(account)))
        holder.update(fake=fake, account=account, at=fake.ledger(account)[10]["processedTimestamp"])
        async with BackOffice(
            api_key=fake.api_key, base_url=fake.url, budget=RateBudget.unlimited()
        ) as client:
            stream = client.identity(ident.identity).managed_accounts.statement(
                account.id, page_size=100, concurrency=1
            )
            got = [e.transaction_id.id async for e in stream]
        stamps = {e["transactionId"]["id"]: e["processedTimestamp"] for e in fake.ledger(account)}
        assert len(got) == len(set(got)) > 600
        assert before <= set(got)
        assert [stamps[i] for i in got] == sorted((stamps[i] for i in got), reverse=True)
        assert stream.progress.repairs >= 5
