"""The one pagination engine: concurrent offset/limit walks that are exact snapshots.

A walk learns the total `count` from its first page, then fetches the remaining offsets with up
to `concurrency` requests in flight and yields pages strictly in order. It never holds more
than `concurrency` pages: a slow consumer holds the fetching back, so memory does not grow with
the history.

Snapshot. Statements and transfers are ordered by a timestamp, newest first by default, so a
transaction posted mid-walk would shift every offset by one and duplicate an entry. A walk
therefore pins an upper time bound at its start (just past the newest entry that existed then)
and sends it on every later page. If the `count` of a page still differs from the segment's
(an entry was back-dated into the window), the walk repairs: it drops the pages it has not yet
yielded and starts a new segment whose time bounds begin at the last entry it yielded, skipping
the entries at that exact timestamp it has already yielded. Time bounds are sent one
millisecond wide of the cursor and the excess is filtered here, so the walk is exact whether the
API treats its bounds as inclusive or exclusive.

Endpoints without time filters (bulk processes and their operations) repair by shifting the
offset by the change in `count` (new bulk processes arrive at the front) and skipping the
entries of the last yielded page.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
from collections import Counter, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any, Generic, Literal, TypeVar

import attrs
import orjson

from ._operation import Operation, QueryPairs, query_pairs
from .errors import MalformedResponse
from .models import CurrencyAmount, structure, structure_many

__all__ = [
    "Checkpoint",
    "Endpoint",
    "Page",
    "Progress",
    "SnapshotRule",
    "Stream",
]

T = TypeVar("T")
PAGE_TASK_NAME = "weavr-async-page"
MAX_FRUITLESS_REPAIRS = 25
"""Repairs in a row that yield nothing before a walk gives up with MalformedResponse: a
result that changes on every request can never be walked exactly, and must not loop."""
Order = Literal["ASC", "DESC"]
RawItem = dict[str, Any]
FetchPage = Callable[[QueryPairs, bool], Awaitable[Any]]
"""Sends one page request: with True the decoded JSON body, with False its undecoded bytes."""


@attrs.frozen
class SnapshotRule:
    """How an endpoint's entries are ordered and bounded in time."""

    timestamp_field: str
    lower_param: str
    upper_param: str
    order_param: str | None = None
    fixed_order: Order = "DESC"


@attrs.frozen
class Endpoint:
    """What the engine must know of a paginated operation."""

    operation: Operation
    items_field: str
    limit_param: str
    max_limit: int
    snapshot: SnapshotRule | None = None
    balances: bool = False
    key_fields: tuple[str, ...] = ()


@attrs.define(slots=True)
class Page(Generic[T]):
    """One page as the API answered it (after the snapshot's filtering).

    On statements, `start_balance` and `end_balance` are the API's balances before and after
    the walk's whole time window, the same on every page: a reconciliation takes the first
    page's start and the last page's end.
    """

    items: list[T]
    offset: int
    count: int
    response_count: int
    start_balance: CurrencyAmount | None = None
    end_balance: CurrencyAmount | None = None


@attrs.define(slots=True)
class Progress:
    """How far a walk is: items and pages yielded, the snapshot's total once known."""

    items: int = 0
    pages: int = 0
    total: int | None = None
    requests: int = 0
    repairs: int = 0

    @property
    def done(self) -> bool:
        return self.total is not None and self.items >= self.total


@attrs.frozen
class Checkpoint:
    """What a walk has yielded, enough to resume the same snapshot exactly.

    Serialise with `to_json()` and pass `Checkpoint.from_json(...)` back as `checkpoint=`
    to the same call with the same filters.
    """

    operation_id: str
    fingerprint: str
    yielded: int
    pin: int | None = None
    cursor: int | None = None
    cursor_keys: tuple[str, ...] = ()
    offset: int = 0
    total: int | None = None
    version: int = 1

    def to_json(self) -> str:
        return orjson.dumps(attrs.asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        data = orjson.loads(text)
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a weavr-async checkpoint")
        data["cursor_keys"] = tuple(data.get("cursor_keys", ()))
        return cls(**data)


def _entry_key(item: Any, fields: tuple[str, ...]) -> str:
    """Identity of an entry for de-duplication at a cursor: the scalars at the endpoint's
    identifying paths (not the whole entry: a back-dated posting changes the balances of every
    later entry). Read alike from the API's JSON object or from a model, so a checkpoint taken
    by a typed walk resumes a raw one and the other way round."""
    if not fields:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode()
    return orjson.dumps([_field(item, path) for path in fields]).decode()


def _field(item: Any, path: str) -> Any:
    """The value at a dotted camelCase path of a JSON object or of a model."""
    value = item
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            value = getattr(value, _snake(part), None)
        if value is None:
            return None
    return value


@cache
def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _fingerprint(operation_id: str, pairs: QueryPairs, path_params: Mapping[str, str]) -> str:
    canonical = orjson.dumps(
        [operation_id, sorted(path_params.items()), sorted(pairs)], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()[:32]


@attrs.define
class _Cursor:
    """The last yielded timestamp and the keys yielded at it (a multiset)."""

    ts: int | None = None
    keys: Counter[str] = attrs.field(factory=Counter)


class Stream(Generic[T]):
    """A paginated result: `async for item in stream`, `stream.pages()`, `stream.raw()`,
    `await stream.collect()`.

    Each iteration is one walk of a fresh snapshot (or, given `checkpoint=`, the rest of a saved
    one). `stream.checkpoint` and `stream.progress` describe the current or last walk.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        fetch: FetchPage,
        *,
        item_type: type[T],
        params: Mapping[str, object],
        path_params: Mapping[str, str],
        page_size: int,
        concurrency: int,
        checkpoint: Checkpoint | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._fetch = fetch
        self._item_type = item_type
        self._params = dict(params)
        self._filters = query_pairs(params)
        self._page_size = page_size
        self._concurrency = concurrency
        self._fingerprint = _fingerprint(
            endpoint.operation.operation_id, self._filters, path_params
        )
        if checkpoint is not None:
            self._check_resumable(checkpoint)
        self._start = checkpoint
        self._on_progress = on_progress
        self.progress = Progress()
        self._state: _WalkState | None = None

    def __repr__(self) -> str:
        return (
            f"Stream({self._endpoint.operation.operation_id}, page_size={self._page_size}, "
            f"concurrency={self._concurrency}, progress={self.progress})"
        )

    def _check_resumable(self, checkpoint: Checkpoint) -> None:
        if checkpoint.operation_id != self._endpoint.operation.operation_id:
            raise ValueError(
                f"checkpoint is for {checkpoint.operation_id}, "
                f"not {self._endpoint.operation.operation_id}"
            )
        if checkpoint.fingerprint != self._fingerprint:
            raise ValueError("checkpoint was taken with other arguments or filters")

    # -- public surface -------------------------------------------------------------------

    @property
    def checkpoint(self) -> Checkpoint:
        """Where the current (or last) walk stands: every item yielded so far is behind it."""
        state = self._state
        if state is None:
            if self._start is not None:
                return self._start
            return Checkpoint(self._endpoint.operation.operation_id, self._fingerprint, 0)
        cursor = state.cursor_now()
        return Checkpoint(
            operation_id=self._endpoint.operation.operation_id,
            fingerprint=self._fingerprint,
            yielded=state.yielded_items(),
            pin=state.pin,
            cursor=cursor.ts,
            cursor_keys=tuple(sorted(cursor.keys.elements())),
            offset=state.next_offset_for_resume(),
            total=self.progress.total,
        )

    def __aiter__(self) -> AsyncGenerator[T, None]:
        return self._items(decode=True)

    def raw(self) -> AsyncGenerator[RawItem, None]:
        """The entries as the API's JSON objects, undecoded: the fastest way through a walk."""
        return self._items(decode=False)

    async def pages(self) -> AsyncGenerator[Page[T], None]:
        walk = self._begin(typed=True, balances=self._endpoint.balances)
        try:
            while (page := await walk.next_page()) is not None:
                walk.state.consumed = len(page.items)  # a page handed out counts as yielded
                yield page
                self._after_yield(page)
            self.progress.total = self.progress.items
        finally:
            await walk.close()

    async def collect(self) -> list[T]:
        return [item async for item in self]

    # -- walking --------------------------------------------------------------------------

    async def _items(self, *, decode: bool) -> AsyncGenerator[Any, None]:
        # One async generator per iteration, over a plain page source: nested generators
        # would each be finalised on their own at interpreter or loop shutdown, racing the
        # outer one's cleanup; here `finally` cancels the pages in flight, once.
        walk = self._begin(typed=decode, balances=False)
        try:
            while (page := await walk.next_page()) is not None:
                state = walk.state
                for index, item in enumerate(page.items, 1):
                    state.consumed = index
                    yield item
                self._after_yield(page)
            self.progress.total = self.progress.items
        finally:
            await walk.close()

    def _begin(self, *, typed: bool, balances: bool) -> _Walk:
        self.progress = Progress()
        state = _WalkState.from_checkpoint(self._start)
        state.ts_field = self._timestamp_field()
        state.key_fields = self._endpoint.key_fields
        self._state = state
        self.progress.items = state.yielded
        return _Walk(self, state, typed=typed, balances=balances)

    def _after_yield(self, page: Page[Any]) -> None:
        state = self._state
        assert state is not None
        state.finish_page(page, self._timestamp_field())
        self.progress.items = state.yielded
        self.progress.pages += 1
        if self._on_progress is not None:
            self._on_progress(self.progress)

    def _timestamp_field(self) -> str | None:
        rule = self._endpoint.snapshot
        return rule.timestamp_field if rule is not None else None

    def _decode(self, items: list[RawItem]) -> list[T]:
        # Building thousands of small objects makes the cyclic collector run over and over
        # for nothing (they hold no cycles): pausing it for one page's decode was measured to
        # save about a third of the decode time (benchmarks/bench_models.py).
        enabled = gc.isenabled()
        gc.disable()
        try:
            return structure_many(items, self._item_type)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedResponse(
                f"{self._endpoint.operation.operation_id}: an item does not fit "
                f"{self._item_type.__name__}: {type(exc).__name__}: {exc}",
                operation=self._endpoint.operation.operation_id,
            ) from exc
        finally:
            if enabled:
                gc.enable()

    def _balances(
        self, body: Mapping[str, Any]
    ) -> tuple[CurrencyAmount | None, CurrencyAmount | None]:
        found: list[CurrencyAmount | None] = []
        for key in ("startBalance", "endBalance"):
            value = body.get(key)
            found.append(structure(value, CurrencyAmount) if isinstance(value, Mapping) else None)
        return found[0], found[1]

    def _order(self, rule: SnapshotRule) -> Order:
        if rule.order_param is not None:
            value = self._params.get(rule.order_param)
            if value in ("ASC", "DESC"):
                return value
        return rule.fixed_order

    def _pairs(
        self,
        rule: SnapshotRule,
        lower: int | None,
        upper: int | None,
        *,
        order: Order | None = None,
    ) -> QueryPairs:
        replaced = {rule.lower_param, rule.upper_param}
        if order is not None and rule.order_param is not None:
            replaced.add(rule.order_param)
        pairs = [(k, v) for k, v in self._filters if k not in replaced]
        if order is not None and rule.order_param is not None:
            pairs.append((rule.order_param, order))
        if lower is not None:
            pairs.append((rule.lower_param, str(lower)))
        if upper is not None:
            pairs.append((rule.upper_param, str(upper)))
        return pairs

    def _query(self, pairs: QueryPairs, offset: int, limit: int | None = None) -> QueryPairs:
        return [
            *pairs,
            ("offset", str(offset)),
            (self._endpoint.limit_param, str(limit or self._page_size)),
        ]

    async def _get(
        self, pairs: QueryPairs, offset: int, *, limit: int | None = None
    ) -> tuple[Page[RawItem], Mapping[str, Any]]:
        """Fetch and decode a page now (the first of a segment, or a probe)."""
        self.progress.requests += 1
        body = await self._fetch(self._query(pairs, offset, limit), True)
        return self._page(body, offset)

    async def _fetch_ahead(self, pairs: QueryPairs, offset: int) -> _Fetched:
        """Fetch a page ahead of the consumer, kept as bytes until its turn.

        Buffered pages as bytes rather than decoded dicts are several times smaller, and the
        cyclic GC has nothing in them to traverse again and again while they wait: that was
        measured as the largest cost of a walk after JSON decoding itself.
        """
        query = self._query(pairs, offset)
        self.progress.requests += 1
        body: bytes = await self._fetch(query, False)
        return _Fetched(query, offset, body)

    def _page(self, body: Any, offset: int) -> tuple[Page[RawItem], Mapping[str, Any]]:
        operation = self._endpoint.operation.operation_id
        if not isinstance(body, Mapping):
            raise MalformedResponse(f"{operation}: not a JSON object", operation=operation)
        items = body.get(self._endpoint.items_field) or []
        if not isinstance(items, list):
            raise MalformedResponse(
                f"{operation}: '{self._endpoint.items_field}' is not a list", operation=operation
            )
        count = body.get("count")
        response_count = body.get("responseCount")
        return (
            Page(
                items=items,
                offset=offset,
                count=count if isinstance(count, int) else offset + len(items),
                response_count=response_count if isinstance(response_count, int) else len(items),
            ),
            body,
        )


PageAndBody = tuple[Page[RawItem], Mapping[str, Any]]


class _Segment:
    """Offsets of one segment (fixed filters and bounds), fetched ahead within `concurrency`
    and handed out in order."""

    def __init__(
        self,
        stream: Stream[Any],
        pairs: QueryPairs,
        first: PageAndBody,
        keep: _SnapshotFilter | None,
        start_offset: int,
        dedupe: frozenset[str],
    ) -> None:
        self.stream = stream
        self.pairs = pairs
        self.keep = keep
        self.dedupe = dedupe
        self.start_offset = start_offset
        self.expected = first[0].count
        self._first: PageAndBody | None = first
        step = stream._page_size
        served = first[0].response_count
        if 0 < served < min(step, self.expected - start_offset):
            # The API answered fewer entries than asked although more remain: it caps pages
            # below our page size. Its page size is the step, or offsets would skip entries.
            step = served
        self.step = step
        self._offsets = deque(range(start_offset + step, self.expected, step))
        self._in_flight: deque[asyncio.Task[_Fetched]] = deque()

    def _launch(self) -> None:
        stream = self.stream
        while self._offsets and len(self._in_flight) < stream._concurrency:
            fetch = stream._fetch_ahead(self.pairs, self._offsets.popleft())
            self._in_flight.append(asyncio.create_task(fetch, name=PAGE_TASK_NAME))

    async def next(self) -> PageAndBody | _Fetched | None:
        if self._first is not None:
            first, self._first = self._first, None
            self._launch()
            return first
        if not self._in_flight:
            return None
        # The awaited page stays in the window until it has arrived, so requests in flight
        # never exceed `concurrency`.
        current = await self._in_flight[0]
        self._in_flight.popleft()
        self._launch()
        return current

    async def close(self) -> None:
        tasks = list(self._in_flight)
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class _Walk:
    """The pages of one walk, segment after segment: pins the snapshot, checks every page's
    `count` against its segment's, and starts a repair segment when the window changed."""

    def __init__(
        self, stream: Stream[Any], state: _WalkState, *, typed: bool, balances: bool
    ) -> None:
        self.stream = stream
        self.state = state
        self.typed = typed
        self.balances = balances
        self._segment: _Segment | None = None
        self._done = False
        self._changed_count: int | None = None
        self._fruitless = 0

    async def next_page(self) -> Page[Any] | None:
        """The next page to hand out (models when typed), or None at the end of the walk."""
        stream = self.stream
        state = self.state
        while not self._done:
            if self._segment is None:
                self._segment = await self._start_segment()
                if self._segment is None:
                    self._done = True
                    break
                state.segment_count = self._segment.expected
                stream.progress.total = state.yielded + _remaining(
                    self._segment.expected, self._segment.start_offset, self._segment.keep
                )
            segment = self._segment
            got = await segment.next()
            if got is None:
                self._done = True
                break
            # Decoding, checking, filtering and building models run with the cyclic GC paused,
            # and the page's JSON objects are gone before it resumes: the collector never has
            # to walk them (measured as the largest cost of a walk after decoding itself).
            with _gc_paused():
                if isinstance(got, _Fetched):
                    ready = self._prepare_fetched(segment, got)
                else:
                    ready = self._prepare(segment, got[1], got[0])
            if ready is _UNREADABLE:
                # Unreadable when its turn came: fetched again, through the transport's
                # retries, which turn a body that stays broken into MalformedResponse.
                assert isinstance(got, _Fetched)
                stream.progress.requests += 1
                refetched = await stream._fetch(got.query, True)
                with _gc_paused():
                    ready = self._prepare(segment, refetched, got)
                del refetched
            if isinstance(ready, Page):
                self._fruitless = 0
                return ready
            # The window changed under the walk (or a short page: entries vanished from it).
            await segment.close()
            self._segment = None
            state.repairs += 1
            stream.progress.repairs = state.repairs
            self._fruitless += 1
            if self._fruitless > MAX_FRUITLESS_REPAIRS:
                operation = stream._endpoint.operation.operation_id
                raise MalformedResponse(
                    f"{operation}: the result changed on every page "
                    f"({self._fruitless} repairs in a row without an entry to show)",
                    operation=operation,
                )
        return None

    def _prepare_fetched(self, segment: _Segment, fetched: _Fetched) -> Page[Any] | _Marker:
        # The decoded body lives in this frame only: when typed, its JSON objects are freed
        # on return, before the collector resumes.
        body = _decode_object(fetched.body)
        return _UNREADABLE if body is None else self._prepare(segment, body, fetched)

    def _prepare(
        self, segment: _Segment, body: Any, where: _Fetched | Page[RawItem]
    ) -> Page[Any] | _Marker:
        """Check one page against its segment, filter it, and build its models; or say that
        the window changed (`_CHANGED`)."""
        stream = self.stream
        page, body = stream._page(body, where.offset)
        short = page.response_count < min(segment.step, segment.expected - page.offset)
        if page.count != segment.expected or short:
            self._changed_count = page.count
            return _CHANGED
        items: list[Any] = page.items
        if segment.keep is not None:
            items = segment.keep.apply(items)
        if segment.dedupe:
            fields = stream._endpoint.key_fields
            items = [i for i in items if _entry_key(i, fields) not in segment.dedupe]
            segment.dedupe = frozenset()
        start = end = None
        if self.balances:
            start, end = stream._balances(body)
        if self.typed:
            items = stream._decode(items)
        self.state.begin_page(items)
        return Page(items, page.offset, page.count, page.response_count, start, end)

    async def close(self) -> None:
        if self._segment is not None:
            await self._segment.close()
            self._segment = None

    async def _start_segment(self) -> _Segment | None:
        rule = self.stream._endpoint.snapshot
        if rule is None:
            return await self._offset_segment()
        return await self._snapshot_segment(rule)

    async def _offset_segment(self) -> _Segment:
        """Endpoints without time bounds: new entries arrive at the front, so a changed count
        shifts the offsets by the difference, and the last page's entries are skipped."""
        stream = self.stream
        state = self.state
        pairs = list(stream._filters)
        offset = state.offset
        dedupe: frozenset[str] = frozenset()
        if self._changed_count is not None:
            offset = max(0, state.offset + self._changed_count - state.segment_count)
            fields = stream._endpoint.key_fields
            dedupe = frozenset(_entry_key(i, fields) for i in state.last_page_items)
        first = await stream._get(pairs, offset)
        return _Segment(stream, pairs, first, None, offset, dedupe)

    async def _snapshot_segment(self, rule: SnapshotRule) -> _Segment | None:
        stream = self.stream
        state = self.state
        order = stream._order(rule)
        user_lower = _as_int(stream._params.get(rule.lower_param))
        user_upper = _as_int(stream._params.get(rule.upper_param))
        first: PageAndBody | None = None
        if state.pin is None:
            # Pin the snapshot just past the newest entry that exists now.
            if order == "DESC":
                first = await stream._get(stream._pairs(rule, user_lower, user_upper), 0)
                pinning = first[0]
            else:
                probe_pairs = stream._pairs(rule, user_lower, user_upper, order="DESC")
                pinning = (await stream._get(probe_pairs, 0, limit=1))[0]
            head = pinning.items
            newest = head[0].get(rule.timestamp_field) if head else None
            if not isinstance(newest, int):
                operation = stream._endpoint.operation.operation_id
                if head:
                    problem = f"an entry has no integer {rule.timestamp_field}"
                elif pinning.count > 0:
                    problem = f"{pinning.count} entries counted, none served"
                else:
                    return None  # nothing to walk
                raise MalformedResponse(f"{operation}: {problem}", operation=operation)
            state.pin = newest + 1 if user_upper is None else min(user_upper, newest + 1)
        cursor = state.cursor_now()
        if order == "DESC":
            lower = user_lower
            upper = state.pin if cursor.ts is None else min(state.pin, cursor.ts + 1)
        else:
            lower = user_lower if cursor.ts is None else cursor.ts - 1
            upper = state.pin
        pairs = stream._pairs(rule, lower, upper)
        keep = _SnapshotFilter(
            rule.timestamp_field, order, state.pin, cursor, stream._endpoint.key_fields
        )
        if first is None:
            first = await stream._get(pairs, 0)
        return _Segment(stream, pairs, first, keep, 0, frozenset())


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_CHANGED = _Marker("CHANGED")
_UNREADABLE = _Marker("UNREADABLE")


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode_object(raw: bytes) -> Mapping[str, Any] | None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, Mapping) else None


@attrs.frozen
class _Fetched:
    """A page's undecoded body, and the query that fetched it (to fetch it again)."""

    query: QueryPairs
    offset: int
    body: bytes


def _remaining(count: int, start_offset: int, keep: _SnapshotFilter | None) -> int:
    remaining = max(0, count - start_offset)
    if keep is not None:
        remaining -= sum(keep.cursor.keys.values())
    return max(0, remaining)


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@attrs.define
class _SnapshotFilter:
    """Drops what a segment's widened time bounds let in: entries past the pin, entries on the
    already-walked side of the cursor, and those at the cursor's timestamp already yielded."""

    ts_field: str
    order: Order
    pin: int | None
    cursor: _Cursor
    key_fields: tuple[str, ...] = ()
    _skip: Counter[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._skip = Counter(self.cursor.keys)

    def apply(self, items: list[RawItem]) -> list[RawItem]:
        if not items:
            return items
        ts = self.ts_field
        pin = self.pin
        cur = self.cursor.ts
        # Pages are sorted by timestamp: when both ends are well inside the window, so is
        # every entry between them, and the page passes untouched (the common case).
        first, last = items[0].get(ts), items[-1].get(ts)
        if isinstance(first, int) and isinstance(last, int):
            lo, hi = (last, first) if self.order == "DESC" else (first, last)
            inside_pin = pin is None or hi < pin
            if cur is None:
                inside_cursor = True
            elif self.order == "DESC":
                inside_cursor = hi < cur
            else:
                inside_cursor = lo > cur
            if inside_pin and inside_cursor:
                return items
        skip = self._skip
        kept: list[RawItem] = []
        for item in items:
            t = item.get(ts)
            if not isinstance(t, int):
                kept.append(item)
                continue
            if pin is not None and t >= pin:
                continue
            if cur is not None:
                if (self.order == "DESC" and t > cur) or (self.order == "ASC" and t < cur):
                    continue
                if t == cur and skip:
                    key = _entry_key(item, self.key_fields)
                    if skip[key] > 0:
                        skip[key] -= 1
                        continue
            kept.append(item)
        return kept


@attrs.define
class _WalkState:
    """Mutable progress of one walk: what has been yielded and where the cursor is."""

    pin: int | None = None
    yielded: int = 0
    offset: int = 0
    repairs: int = 0
    consumed: int = 0
    current: list[Any] = attrs.field(factory=list)
    cursor: _Cursor = attrs.field(factory=_Cursor)
    last_page_items: list[Any] = attrs.field(factory=list)
    segment_count: int = 0
    ts_field: str | None = None
    key_fields: tuple[str, ...] = ()

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint | None) -> _WalkState:
        if checkpoint is None:
            return cls()
        return cls(
            pin=checkpoint.pin,
            yielded=checkpoint.yielded,
            offset=checkpoint.offset,
            cursor=_Cursor(checkpoint.cursor, Counter(checkpoint.cursor_keys)),
        )

    def begin_page(self, items: list[Any]) -> None:
        self.current = items
        self.consumed = 0

    def finish_page(self, page: Page[Any], ts_field: str | None) -> None:
        """All of `page` was yielded: move the cursor past it."""
        self.consumed = len(page.items)
        self.cursor = self._advance(page.items, len(page.items), ts_field)
        self.yielded += len(page.items)
        self.offset = page.offset + max(page.response_count, len(page.items))
        self.last_page_items = page.items
        self.current = []
        self.consumed = 0

    def yielded_items(self) -> int:
        return self.yielded + self.consumed

    def next_offset_for_resume(self) -> int:
        return self.offset + self.consumed if self.consumed else self.offset

    def cursor_now(self) -> _Cursor:
        if self.consumed and self.current:
            return self._advance(self.current, self.consumed, self.ts_field)
        return self.cursor

    def _advance(self, items: list[Any], n: int, ts_field: str | None) -> _Cursor:
        """The cursor after the first `n` of `items` (JSON objects or models)."""
        if ts_field is None or n == 0:
            return self.cursor
        last = _field(items[n - 1], ts_field)
        if not isinstance(last, int):
            return self.cursor
        keys: Counter[str] = Counter()
        index = n - 1
        while index >= 0 and _field(items[index], ts_field) == last:
            keys[_entry_key(items[index], self.key_fields)] += 1
            index -= 1
        if index < 0 and self.cursor.ts == last:
            keys.update(self.cursor.keys)
        return _Cursor(last, keys)
