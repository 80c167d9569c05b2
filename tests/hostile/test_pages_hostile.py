"""Walks against a server whose pages lie: a walk believes no page until it is checked.

Each test plays one way a listing can be wrong (its counts, its items, its order, its time
bounds, its balances) and asserts that the walk either returns exactly what exists or fails
with a typed error, within a bounded number of requests and bounded memory; never a short or
duplicated result, never an untyped error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
from collections.abc import Callable, Iterator
from typing import Any, Literal

import attrs
import orjson
import psutil
import pytest
from aiohttp import web

from weavr_async import (
    BackOffice,
    BulkProcess,
    Checkpoint,
    InvalidRequest,
    MalformedResponse,
    StatementEntry,
    Stream,
    Transfer,
)
from weavr_async.client import IdentitySession

from .conftest import CORPORATE, HostileServer

ACCOUNT = "2001"
STATEMENT = f"/managed_accounts/{ACCOUNT}/statement"
TRANSFERS = "/transfers"
BULKS = "/bulks"
EPOCH = 1_700_000_000_000
INT32_MAX = 2**31 - 1

Served = Literal["ASC", "DESC", "AS_IS"]


def statement_entry(n: int, ts: int) -> dict[str, Any]:
    return {
        "transactionId": {"type": "TRANSFER", "id": str(n)},
        "entryState": "COMPLETED",
        "transactionAmount": {"currency": "EUR", "amount": 100 + n},
        "processedTimestamp": ts,
    }


def transfer(n: int, ts: int) -> dict[str, Any]:
    return {
        "id": str(n),
        "profileId": "1",
        "source": {"type": "managed_accounts", "id": "2001"},
        "destination": {"type": "managed_accounts", "id": "2002"},
        "destinationAmount": {"currency": "EUR", "amount": 100},
        "state": "COMPLETED",
        "creationTimestamp": ts,
    }


def history(n: int, make: Callable[[int, int], dict[str, Any]] = statement_entry) -> list[Any]:
    """`n` entries, oldest first, one second apart."""
    return [make(i, EPOCH + 1_000 * i) for i in range(n)]


@attrs.define
class Listing:
    """A paginated list served by the hostile server: honest (offset, limit, order asked,
    time bounds from inclusive, to exclusive) unless a knob says otherwise."""

    entries: list[dict[str, Any]]  # oldest first, or as served for AS_IS
    items_field: str = "entry"
    ts_field: str | None = "processedTimestamp"
    limit_param: str = "statementLimit"
    lower: str = "fromTimestamp"
    upper: str = "toTimestamp"
    order_param: str | None = "orderByTimestamp"
    served: Served = "DESC"  # the order when none is asked, or the asked one is ignored
    honour_order: bool = True
    honour_bounds: bool = True
    count: Callable[[int], Any] | None = None  # the true count -> the `count` sent
    tweak: Callable[[dict[str, Any], int], None] | None = None  # (body, offset) -> None
    before: Callable[[int], None] | None = None  # called with the request number (1, 2...)
    requests: int = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.before is not None:
            self.before(self.requests)
        query = request.query
        offset = int(query.get("offset", "0"))
        limit = int(query.get(self.limit_param, "100"))
        rows = self.entries
        ts = self.ts_field
        if ts is not None and self.honour_bounds:
            low, high = query.get(self.lower), query.get(self.upper)
            rows = [
                e
                for e in rows
                if (low is None or e[ts] >= int(low)) and (high is None or e[ts] < int(high))
            ]
        order = self.served
        if self.honour_order and self.order_param is not None and self.order_param in query:
            order = query[self.order_param]  # type: ignore[assignment]
        if order == "DESC":
            rows = rows[::-1]
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {self.items_field: page, "count": len(rows)}
        body["responseCount"] = len(page)
        if self.count is not None:
            body["count"] = self.count(len(rows))
        if self.tweak is not None:
            self.tweak(body, offset)
        return web.Response(body=orjson.dumps(body), content_type="application/json")


def transfers_listing(entries: list[dict[str, Any]], served: Served) -> Listing:
    return Listing(
        entries,
        items_field="transfer",
        ts_field="creationTimestamp",
        limit_param="limit",
        lower="createdFrom",
        upper="createdTo",
        order_param=None,
        served=served,
    )


def bulks_listing(entries: list[dict[str, Any]]) -> Listing:
    return Listing(
        entries, items_field="bulkProcesses", ts_field=None, limit_param="limit", order_param=None
    )


def offsets(hostile: HostileServer, path: str) -> list[int]:
    return [int(r.param("offset") or 0) for r in hostile.calls(path)]


def acme(client: BackOffice) -> IdentitySession:
    return client.identity(CORPORATE)


def ids(items: list[Any]) -> list[str]:
    return [i.transaction_id.id if hasattr(i, "transaction_id") else i.id for i in items]


# -- counts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count",
    [pytest.param(..., id="missing"), "1200", 1200.0, True, -1, None],
)
async def test_a_count_that_is_not_an_int32_ends_the_walk_with_an_error_not_short(
    hostile: HostileServer, client: BackOffice, count: Any
) -> None:
    """1,200 entries exist; a page whose `count` cannot be believed must not end the walk
    after its 500 entries as if they were all."""

    def lie(body: dict[str, Any], _: int) -> None:
        if count is ...:
            del body["count"]
        else:
            body["count"] = count

    hostile.route("GET", STATEMENT, Listing(history(1_200), tweak=lie))
    with pytest.raises(MalformedResponse, match=r"managedAccountStatement: .*'count'") as err:
        await acme(client).managed_accounts.statement(ACCOUNT).collect()
    assert err.value.operation == "managedAccountStatement"


@pytest.mark.parametrize("response_count", ["3", -1, True, 2.0, 499, 501])
async def test_a_response_count_that_is_wrong_or_disagrees_with_the_entries_is_malformed(
    hostile: HostileServer, client: BackOffice, response_count: Any
) -> None:
    def lie(body: dict[str, Any], _: int) -> None:
        body["responseCount"] = response_count

    hostile.route("GET", STATEMENT, Listing(history(1_200), tweak=lie))
    with pytest.raises(MalformedResponse, match="responseCount"):
        await acme(client).managed_accounts.statement(ACCOUNT).collect()


async def test_pages_without_a_response_count_are_walked_by_what_they_serve(
    hostile: HostileServer, client: BackOffice
) -> None:
    """The contract does not require responseCount: its absence is no reason to fail."""

    def drop(body: dict[str, Any], _: int) -> None:
        del body["responseCount"]

    hostile.route("GET", STATEMENT, Listing(history(1_200), tweak=drop))
    got = await acme(client).managed_accounts.statement(ACCOUNT).collect()
    assert ids(got) == [str(i) for i in reversed(range(1_200))]


@pytest.mark.parametrize(
    "bad_item", [None, 7, "entry", [1, 2], True], ids=["null", "number", "string", "list", "bool"]
)
@pytest.mark.parametrize("mode", ["typed", "raw", "pages"])
async def test_an_item_that_is_not_an_object_is_malformed(
    hostile: HostileServer, client: BackOffice, bad_item: Any, mode: str
) -> None:
    def spoil(body: dict[str, Any], offset: int) -> None:
        if offset == 500:
            body["entry"][0] = bad_item  # where the snapshot filter looks first

    hostile.route("GET", STATEMENT, Listing(history(1_200), tweak=spoil))
    stream = acme(client).managed_accounts.statement(ACCOUNT)

    async def walk() -> None:
        if mode == "typed":
            await stream.collect()
        elif mode == "raw":
            [e async for e in stream.raw()]
        else:
            [p async for p in stream.pages()]

    with pytest.raises(MalformedResponse, match=r"item 0 of 'entry' is .*not an object"):
        await walk()


@pytest.mark.parametrize("items", [None, {"0": {}}, "entries", 3], ids=str)
async def test_items_that_are_not_a_list_are_malformed(
    hostile: HostileServer, client: BackOffice, items: Any
) -> None:
    def spoil(body: dict[str, Any], _: int) -> None:
        body["entry"] = items

    hostile.route("GET", STATEMENT, Listing(history(10), tweak=spoil))
    with pytest.raises(MalformedResponse, match=r"'entry' is .*not a list"):
        await acme(client).managed_accounts.statement(ACCOUNT).collect()


async def test_more_entries_than_asked_or_than_counted_are_malformed(
    hostile: HostileServer, client: BackOffice
) -> None:
    listing = Listing(history(1_200))
    hostile.route("GET", STATEMENT, listing)

    def double(body: dict[str, Any], _: int) -> None:
        body["entry"] = body["entry"] * 2
        body["responseCount"] *= 2
        body["count"] *= 2

    listing.tweak = double  # consistent with itself, but over the limit asked
    with pytest.raises(MalformedResponse, match="1000 entries served, at most 500 asked"):
        await acme(client).managed_accounts.statement(ACCOUNT).collect()
    listing.tweak = lambda body, _: body.update(count=3)
    with pytest.raises(MalformedResponse, match="500 entries served but count is 3"):
        await acme(client).managed_accounts.statement(ACCOUNT).collect()


# -- counts that are never served ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["statement", "transfers", "bulks"])
async def test_a_count_larger_than_ever_served_fails_within_a_bounded_number_of_requests(
    hostile: HostileServer, client: BackOffice, kind: str
) -> None:
    """count 1000, 3 entries, then empty pages: the walk must neither loop on empty pages
    nor end short; an empty page does not count as progress between repairs."""
    stream: Stream[StatementEntry] | Stream[Transfer] | Stream[BulkProcess]
    if kind == "statement":
        listing, path = Listing(history(3), count=lambda _: 1_000), STATEMENT
        stream = acme(client).managed_accounts.statement(ACCOUNT, concurrency=2)
    elif kind == "transfers":
        listing = transfers_listing(history(3, transfer), "DESC")
        listing.count, path = (lambda _: 1_000), TRANSFERS
        stream = acme(client).transfers.list(concurrency=2)
    else:
        listing = bulks_listing([{"bulkId": str(i)} for i in range(3)])
        listing.count, path = (lambda _: 1_000), BULKS
        stream = acme(client).bulks.list(concurrency=2)
    hostile.route("GET", path, listing)
    with pytest.raises(MalformedResponse, match="repairs in a row"):
        await asyncio.wait_for(stream.collect(), timeout=20)
    # 26 repairs, each a segment's first page and at most `concurrency` pages ahead.
    assert hostile.count(path) <= 1 + 26 * 3


# -- counts beyond the int32 the API pages with -------------------------------------------


@contextlib.contextmanager
def address_space_capped(extra: int = 2 * 1024**3) -> Iterator[None]:
    """A ceiling on this process's address space while a test runs, so that a regression
    which builds something huge fails with MemoryError instead of eating the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = psutil.Process().memory_info().vms + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


async def test_a_count_beyond_int32_fails_fast_in_flat_memory(
    hostile: HostileServer, client: BackOffice
) -> None:
    hostile.route("GET", STATEMENT, Listing(history(500), count=lambda _: 10**12))
    process = psutil.Process()
    before = process.memory_info().rss
    with address_space_capped(), pytest.raises(MalformedResponse, match=r"'count' .*int32"):
        await asyncio.wait_for(
            acme(client).managed_accounts.statement(ACCOUNT).collect(), timeout=10
        )
    assert process.memory_info().rss - before < 50 * 1024**2
    assert hostile.count(STATEMENT) == 1  # believed nothing past the first page


async def test_a_huge_int32_count_is_walked_lazily(
    hostile: HostileServer, client: BackOffice
) -> None:
    """1.9e9 at pages of 10 is a valid count; its offsets must be computed as they are asked
    for, not listed up front (190 million of them)."""
    hostile.route("GET", STATEMENT, Listing(history(10), count=lambda _: 1_900_000_000))
    process = psutil.Process()
    before = process.memory_info().rss
    stream = acme(client).managed_accounts.statement(ACCOUNT, page_size=10, concurrency=2)
    with address_space_capped(), pytest.raises(MalformedResponse, match="repairs in a row"):
        await asyncio.wait_for(stream.collect(), timeout=20)
    assert process.memory_info().rss - before < 50 * 1024**2
    assert hostile.count(STATEMENT) <= 1 + 26 * 3
    assert max(offsets(hostile, STATEMENT)) <= INT32_MAX


async def test_a_repaired_offset_walk_never_sends_an_offset_beyond_int32(
    hostile: HostileServer, client: BackOffice
) -> None:
    """Bulk walks shift their offset by the change in count: a count grown past int32 must
    be refused, not turned into an offset."""
    listing = bulks_listing([{"bulkId": str(i)} for i in range(300)])
    listing.count = lambda n: n if listing.requests == 1 else 2**40
    hostile.route("GET", BULKS, listing)
    with address_space_capped(), pytest.raises(MalformedResponse, match="int32"):
        await asyncio.wait_for(acme(client).bulks.list(concurrency=1).collect(), timeout=10)
    assert max(offsets(hostile, BULKS)) <= INT32_MAX


# -- order ----------------------------------------------------------------------------------


@pytest.mark.parametrize("served", ["ASC", "DESC"])
@pytest.mark.parametrize("page_size", [100, 37])
async def test_transfers_are_walked_in_the_order_the_server_lists_them(
    hostile: HostileServer, client: BackOffice, served: Served, page_size: int
) -> None:
    """The API never says how transfers are ordered: oldest first must come back whole."""
    made = history(250, transfer)
    hostile.route("GET", TRANSFERS, transfers_listing(made, served))
    got = await acme(client).transfers.list(page_size=page_size, concurrency=3).collect()
    expected = [t["id"] for t in (made if served == "ASC" else made[::-1])]
    assert ids(got) == expected


@pytest.mark.parametrize("served", ["ASC", "DESC"])
async def test_transfers_sharing_a_timestamp_on_the_first_page_are_ordered_by_the_last(
    hostile: HostileServer, client: BackOffice, served: Served
) -> None:
    """A first page that cannot tell the order (one timestamp throughout) is settled by the
    last entry; the walk then pins from the true newest."""
    made = history(250, transfer)
    same = made[:120] if served == "ASC" else made[-120:]
    for t in same:
        t["creationTimestamp"] = same[0]["creationTimestamp"]
    listing = transfers_listing(made, served)
    hostile.route("GET", TRANSFERS, listing)
    got = await acme(client).transfers.list(concurrency=2).collect()
    served_ids = [t["id"] for t in (made if served == "ASC" else made[::-1])]
    assert sorted(ids(got), key=int) == sorted(served_ids, key=int)
    assert len(got) == 250
    probes = [r for r in hostile.calls(TRANSFERS) if r.param("limit") == "1"]
    assert [p.param("offset") for p in probes] == ["249"]


async def test_a_transfers_walk_resumes_in_the_order_it_found(
    hostile: HostileServer, client: BackOffice
) -> None:
    """The order read from the data travels in the checkpoint: the rest of an oldest-first
    walk is walked oldest first, exactly; a checkpoint that lost it is checked, not believed."""
    made = history(250, transfer)
    hostile.route("GET", TRANSFERS, transfers_listing(made, "ASC"))
    stream = acme(client).transfers.list(concurrency=2)
    first: list[str] = []
    async for t in stream:
        first.append(t.id)
        if len(first) == 120:
            break
    saved = stream.checkpoint.to_json()
    assert orjson.loads(saved)["order"] == "ASC"
    resumed = acme(client).transfers.list(checkpoint=Checkpoint.from_json(saved))
    assert first + ids(await resumed.collect()) == [t["id"] for t in made]
    lost = attrs.evolve(Checkpoint.from_json(saved), order=None)  # as saved before orders
    with pytest.raises(MalformedResponse, match="order"):
        await acme(client).transfers.list(checkpoint=lost).collect()


async def test_transfers_in_no_order_are_malformed(
    hostile: HostileServer, client: BackOffice
) -> None:
    made = history(250, transfer)
    random.Random(8).shuffle(made)
    hostile.route("GET", TRANSFERS, transfers_listing(made, "AS_IS"))
    with pytest.raises(MalformedResponse, match="order"):
        await acme(client).transfers.list().collect()


async def test_pages_each_in_order_but_out_of_order_together_are_malformed(
    hostile: HostileServer, client: BackOffice
) -> None:
    """Newest first within each page, but the pages themselves out of order."""
    made = history(300, transfer)
    pages = [made[i : i + 100] for i in range(0, 300, 100)]  # oldest page first
    listing = transfers_listing([t for page in pages for t in page[::-1]], "AS_IS")
    listing.honour_bounds = False
    hostile.route("GET", TRANSFERS, listing)
    with pytest.raises(MalformedResponse, match="out of DESC order after the page before"):
        await acme(client).transfers.list(concurrency=1).collect()


@pytest.mark.parametrize(("asked", "served"), [("ASC", "DESC"), ("DESC", "ASC"), ("ASC", "ASC")])
async def test_a_statement_served_in_another_order_than_asked_is_malformed(
    hostile: HostileServer, client: BackOffice, asked: str, served: Served
) -> None:
    """A server ignoring orderByTimestamp. Always oldest first, an ASC walk would pin at the
    oldest entry (its probe for the newest is asked newest first) and end after one entry."""
    hostile.route("GET", STATEMENT, Listing(history(1_200), served=served, honour_order=False))
    stream = acme(client).managed_accounts.statement(ACCOUNT, order=asked)  # type: ignore[arg-type]
    with pytest.raises(MalformedResponse, match="order"):
        await stream.collect()
    assert {r.param("orderByTimestamp") for r in hostile.calls(STATEMENT)} <= {"ASC", "DESC"}


async def test_a_statement_walk_asks_for_the_order_it_relies_on(
    hostile: HostileServer, client: BackOffice
) -> None:
    hostile.route("GET", STATEMENT, Listing(history(1_200)))
    got = await acme(client).managed_accounts.statement(ACCOUNT).collect()
    assert ids(got) == [str(i) for i in reversed(range(1_200))]
    assert {r.param("orderByTimestamp") for r in hostile.calls(STATEMENT)} == {"DESC"}


# -- timestamps and time bounds -------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [pytest.param(..., id="missing"), None, True, 1.7e12, "1700000000000", -5, 2**63],
)
async def test_an_entry_without_an_integer_timestamp_mid_walk_is_malformed(
    hostile: HostileServer, client: BackOffice, stamp: Any
) -> None:
    def spoil(body: dict[str, Any], offset: int) -> None:
        if offset == 500:
            entry = dict(body["entry"][3])
            if stamp is ...:
                del entry["processedTimestamp"]
            else:
                entry["processedTimestamp"] = stamp
            body["entry"][3] = entry

    hostile.route("GET", STATEMENT, Listing(history(1_200), tweak=spoil))
    stream = acme(client).managed_accounts.statement(ACCOUNT)
    with pytest.raises(
        MalformedResponse, match=r"entry 503: 'processedTimestamp'|offset 500.*'pro"
    ):
        [e async for e in stream.raw()]  # raw: no model to catch it, the walk must


async def test_entries_newer_than_the_pin_are_malformed_not_filtered_away(
    hostile: HostileServer, client: BackOffice
) -> None:
    """A server ignoring the upper time bound the walk pinned, while transactions arrive:
    its pages hold entries the snapshot excluded, and its offsets move under the walk."""
    listing = Listing(history(1_200), honour_bounds=False)

    def arrive(n: int) -> None:
        if n > 1:
            last = listing.entries[-1]["processedTimestamp"]
            listing.entries.append(statement_entry(10_000 + n, last + 1_000))

    listing.before = arrive
    hostile.route("GET", STATEMENT, listing)
    with pytest.raises(MalformedResponse, match="outside the bounds asked"):
        await acme(client).managed_accounts.statement(ACCOUNT, concurrency=1).collect()


async def test_entries_before_the_lower_bound_asked_are_malformed(
    hostile: HostileServer, client: BackOffice
) -> None:
    hostile.route("GET", STATEMENT, Listing(history(1_200), honour_bounds=False))
    since = EPOCH + 1_000 * 600
    stream = acme(client).managed_accounts.statement(ACCOUNT, from_timestamp=since)
    with pytest.raises(MalformedResponse, match="outside the bounds asked"):
        await stream.collect()


# -- lists that change in ways no repair can fix --------------------------------------------


async def test_a_bulk_list_shrinking_by_more_than_a_page_is_malformed_not_duplicated(
    hostile: HostileServer, client: BackOffice
) -> None:
    """400 bulks, newest first; after two pages, 150 of the oldest leave the list. Stepping
    back by 150 re-reads entries only the last page's 100 of which can be recognised."""
    listing = bulks_listing([{"bulkId": str(i)} for i in range(400)])
    listing.served = "AS_IS"

    def shrink(n: int) -> None:
        if n == 3:
            del listing.entries[250:]

    listing.before = shrink
    hostile.route("GET", BULKS, listing)
    with pytest.raises(MalformedResponse, match="shrank by 150"):
        await acme(client).bulks.list(concurrency=1).collect()


async def test_a_bulk_list_shrinking_within_a_page_is_repaired_exactly(
    hostile: HostileServer, client: BackOffice
) -> None:
    listing = bulks_listing([{"bulkId": str(i)} for i in range(400)])
    listing.served = "AS_IS"

    def shrink(n: int) -> None:
        if n == 3:
            del listing.entries[350:]

    listing.before = shrink
    hostile.route("GET", BULKS, listing)
    got = [b.bulk_id async for b in acme(client).bulks.list(concurrency=1)]
    assert got == [str(i) for i in range(350)]


async def test_an_offset_walk_served_the_same_page_at_every_offset_is_malformed(
    hostile: HostileServer, client: BackOffice
) -> None:
    same = {"bulkProcesses": [{"bulkId": str(i)} for i in range(100)], "count": 300}
    hostile.json("GET", BULKS, same)
    with pytest.raises(MalformedResponse, match="served twice"):
        await acme(client).bulks.list().collect()


# -- statement balances and footer ----------------------------------------------------------


@pytest.mark.parametrize(
    "balance",
    [
        {"currency": "EUR"},
        {"currency": "EUR", "amount": "100"},
        {"currency": "EUR", "amount": 100.7},
        {"currency": "EUR", "amount": True},
        {"currency": "EUR", "amount": 2**63},
        {"amount": 100},
        {"currency": 5, "amount": 100},
        "EUR 100",
        [100],
        None,
    ],
    ids=str,
)
@pytest.mark.parametrize("which", ["startBalance", "endBalance"])
async def test_a_statement_balance_that_is_not_a_currency_amount_is_malformed(
    hostile: HostileServer, client: BackOffice, balance: Any, which: str
) -> None:
    def add(body: dict[str, Any], _: int) -> None:
        body["startBalance"] = body["endBalance"] = {"currency": "EUR", "amount": 5}
        body[which] = balance

    hostile.route("GET", STATEMENT, Listing(history(10), tweak=add))
    with pytest.raises(MalformedResponse, match=which):
        [p async for p in acme(client).managed_accounts.statement(ACCOUNT).pages()]


async def test_statement_pages_carry_balances_and_footer(
    hostile: HostileServer, client: BackOffice
) -> None:
    def add(body: dict[str, Any], _: int) -> None:
        body["startBalance"] = {"currency": "EUR", "amount": 5}
        body["endBalance"] = {"currency": "EUR", "amount": 7}
        body["footer"] = "Weavr Ltd, regulated by the FCA"

    listing = Listing(history(1_200), tweak=add)
    hostile.route("GET", STATEMENT, listing)
    pages = [p async for p in acme(client).managed_accounts.statement(ACCOUNT).pages()]
    assert len(pages) == 3
    assert sum(len(p.items) for p in pages) == 1_200
    assert {p.footer for p in pages} == {"Weavr Ltd, regulated by the FCA"}
    assert pages[0].start_balance is not None
    assert pages[0].start_balance.amount == 5
    listing.tweak = None
    pages = [p async for p in acme(client).managed_accounts.statement(ACCOUNT).pages()]
    assert {p.footer for p in pages} == {None}
    assert {p.start_balance for p in pages} == {None}


@pytest.mark.parametrize("footer", [5, None, ["x"], {"text": "x"}], ids=str)
async def test_a_footer_that_is_not_a_string_is_malformed(
    hostile: HostileServer, client: BackOffice, footer: Any
) -> None:
    def add(body: dict[str, Any], _: int) -> None:
        body["footer"] = footer

    hostile.route("GET", STATEMENT, Listing(history(10), tweak=add))
    with pytest.raises(MalformedResponse, match="footer"):
        [p async for p in acme(client).managed_accounts.statement(ACCOUNT).pages()]


# -- checkpoints ----------------------------------------------------------------------------

GOOD_CHECKPOINT: dict[str, Any] = {
    "operation_id": "managedAccountStatement",
    "fingerprint": "0123456789abcdef0123456789abcdef",
    "yielded": 500,
    "pin": EPOCH + 1,
    "cursor": EPOCH,
    "cursor_keys": ['["TRANSFER","1"]'],
    "offset": 500,
    "total": 1_200,
    "version": 1,
    "order": "DESC",
}


def tampered(**changes: Any) -> str:
    data = {**GOOD_CHECKPOINT, **changes}
    return orjson.dumps({k: v for k, v in data.items() if v is not ...}).decode()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("", id="empty"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param("[1, 2]", id="list"),
        pytest.param("null", id="null"),
        pytest.param(tampered(yielded="x"), id="yielded-str"),
        pytest.param(tampered(yielded=-1), id="yielded-negative"),
        pytest.param(tampered(yielded=1.0), id="yielded-float"),
        pytest.param(tampered(yielded=True), id="yielded-bool"),
        pytest.param(tampered(yielded=2**63), id="yielded-beyond-int64"),
        pytest.param(tampered(pin=1.5), id="pin-float"),
        pytest.param(tampered(pin=-3), id="pin-negative"),
        pytest.param(tampered(pin="1700000000001"), id="pin-str"),
        pytest.param(tampered(cursor=[1]), id="cursor-list"),
        pytest.param(tampered(offset=2**31), id="offset-beyond-int32"),
        pytest.param(tampered(offset=-1), id="offset-negative"),
        pytest.param(tampered(total="all"), id="total-str"),
        pytest.param(tampered(cursor_keys="abc"), id="keys-str"),
        pytest.param(tampered(cursor_keys=[1, 2]), id="keys-ints"),
        pytest.param(tampered(cursor_keys={"a": 1}), id="keys-object"),
        pytest.param(tampered(cursor=None), id="keys-without-cursor"),
        pytest.param(tampered(fingerprint=...), id="missing-fingerprint"),
        pytest.param(tampered(yielded=...), id="missing-yielded"),
        pytest.param(tampered(pin=...), id="missing-pin"),
        pytest.param(tampered(evil=1), id="extra-field"),
        pytest.param(tampered(version=2), id="version-2"),
        pytest.param(tampered(version="1"), id="version-str"),
        pytest.param(tampered(version=True), id="version-bool"),
        pytest.param(tampered(version=...), id="version-missing"),
        pytest.param(tampered(fingerprint="zz"), id="fingerprint-not-hex"),
        pytest.param(tampered(fingerprint=5), id="fingerprint-int"),
        pytest.param(tampered(operation_id=5), id="operation-int"),
        pytest.param(tampered(operation_id=""), id="operation-empty"),
        pytest.param(tampered(order="SIDEWAYS"), id="order-unknown"),
        pytest.param(tampered().replace(str(EPOCH + 1), "1" + "0" * 30), id="pin-huge"),
    ],
)
def test_a_tampered_checkpoint_is_an_invalid_request(text: str | bytes) -> None:
    with pytest.raises(InvalidRequest) as err:
        Checkpoint.from_json(text)
    assert err.value.field == "checkpoint"
    assert isinstance(err.value, ValueError)


def test_a_sound_checkpoint_reads_back_and_one_saved_without_its_order_too() -> None:
    assert Checkpoint.from_json(tampered()).order == "DESC"
    assert Checkpoint.from_json(tampered(order=...)).order is None
    point = Checkpoint.from_json(tampered())
    assert Checkpoint.from_json(point.to_json()) == point


async def test_a_hand_built_checkpoint_is_held_to_the_same_checks(client: BackOffice) -> None:
    statement = acme(client).managed_accounts.statement
    good = Checkpoint.from_json(tampered())
    for bad in (attrs.evolve(good, offset=2**40), attrs.evolve(good, yielded=-1)):
        with pytest.raises(InvalidRequest, match="checkpoint"):
            statement(ACCOUNT, checkpoint=bad)


# -- an entry counted but left out of its page ----------------------------------------------


@pytest.mark.parametrize("order", ["ASC", "DESC"])
async def test_an_entry_counted_but_left_out_of_its_page_is_malformed_not_duplicated(
    hostile: HostileServer, client: BackOffice, order: Literal["ASC", "DESC"]
) -> None:
    """The page holding it serves one entry fewer, so the walk takes the API to cap its pages
    there; the next page then overlaps the last one by an entry. Believed, the walk would end
    with the count met, one entry twice and the left-out one lost."""
    entries = history(1_500)
    hidden = entries[750]

    def leave_out(body: dict[str, Any], offset: int) -> None:
        if hidden in body["entry"]:
            body["entry"].remove(hidden)
            body["responseCount"] = len(body["entry"])

    hostile.route("GET", STATEMENT, Listing(entries, tweak=leave_out))
    stream = acme(client).managed_accounts.statement("2001", order=order, page_size=500)
    with pytest.raises(MalformedResponse, match="an entry served twice"):
        async for _ in stream:
            pass
