"""The one pagination engine: concurrent offset/limit walks that are exact snapshots.

A walk learns the total `count` from its first page, then fetches the remaining offsets with up
to `concurrency` requests in flight and yields pages strictly in order. It never holds more
than `concurrency` pages: a slow consumer holds the fetching back, so memory does not grow with
the history. Offsets are computed one at a time, never listed up front.

No page is believed until it is checked: `count` and `responseCount` are int32s that agree
with what was served, every item is a JSON object, and on time-ordered endpoints every entry
carries an integer timestamp, inside the time bounds asked, in the walk's order within the
page and across pages. What fails a check is `MalformedResponse`; a walk repairs or raises,
it never ends short.

Snapshot. Statements and transfers are ordered by a timestamp, so a transaction posted
mid-walk would shift every offset by one and duplicate an entry. A walk therefore pins an upper
time bound at its start (just past the newest entry that existed then) and sends it on every
later page. If the `count` of a page still differs from the segment's (an entry was back-dated
into the window), the walk repairs: it drops the pages it has not yet yielded and starts a new
segment whose time bounds begin at the last entry it yielded, skipping the entries at that
exact timestamp it has already yielded. Time bounds are sent one millisecond wide of the cursor
and the excess is filtered here, so the walk is exact whether the API treats its bounds as
inclusive or exclusive. Statements are asked for their order (`orderByTimestamp`, always
sent); transfers cannot be, so their order is read from the data at the start of the walk.

Endpoints without time filters (bulk processes and their operations) repair by shifting the
offset by the change in `count` (new bulk processes arrive at the front) and skipping the
entries of the last yielded page.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import math
import re
from collections import Counter, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any, Generic, Literal, TypeVar

import attrs
import orjson

from ._budget import RateBudget
from ._operation import Operation, QueryPairs, query_pairs
from .errors import BudgetExhausted, InvalidRequest, MalformedResponse
from .models import CurrencyAmount, structure, structure_many

__all__ = [
    "Checkpoint",
    "Endpoint",
    "Page",
    "Progress",
    "SnapshotRule",
    "Stream",
    "WalkPlan",
]

T = TypeVar("T")
PAGE_TASK_NAME = "weavr-async-page"
MAX_FRUITLESS_REPAIRS = 25
"""Repairs in a row with no entry yielded between them before a walk gives up with
MalformedResponse: a result that changes on every request, or that counts entries it never
serves, can never be walked exactly, and must not loop."""
INT32_MAX = 2**31 - 1
"""The contract types `offset`, `limit`, `count` and `responseCount` as int32."""
INT64_MAX = 2**63 - 1
"""The contract types timestamps and amounts as int64."""
Order = Literal["ASC", "DESC"]
RawItem = dict[str, Any]
FetchPage = Callable[[QueryPairs, bool], Awaitable[Any]]
"""Sends one page request: with True the decoded JSON body, with False its undecoded bytes."""


@attrs.frozen
class SnapshotRule:
    """How an endpoint's entries are ordered and bounded in time.

    With an `order_param` the walk asks for its order (`fixed_order` unless the caller chose);
    without one the API's order is not stated, and each walk reads it from the data.
    `fixed_order` is then only the choice when every entry has the same timestamp."""

    timestamp_field: str
    lower_param: str
    upper_param: str
    order_param: str | None = None
    fixed_order: Order = "DESC"


@attrs.frozen
class Endpoint:
    """What the engine must know of a paginated operation.

    `balances` marks a statement: its pages carry `startBalance`, `endBalance` and `footer`."""

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
    page's start and the last page's end. `footer` is the statement's footer text as the API
    sent it (None when it sent none, and on other endpoints).
    """

    items: list[T]
    offset: int
    count: int
    response_count: int
    start_balance: CurrencyAmount | None = None
    end_balance: CurrencyAmount | None = None
    footer: str | None = None


@attrs.frozen
class WalkPlan:
    """The rest of a walk: entries left, page requests they need, seconds under the budget."""

    entries: int
    requests: int
    seconds: float


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
    to the same call with the same filters. `from_json` checks every field's type and range
    and raises `InvalidRequest` (a ValueError) for text that is not such a checkpoint.
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
    order: Order | None = None

    def to_json(self) -> str:
        return orjson.dumps(attrs.asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        try:
            data = orjson.loads(text)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise InvalidRequest("checkpoint", "not JSON text") from exc
        problem = _checkpoint_problem(data)
        if problem is not None:
            raise InvalidRequest("checkpoint", problem)
        data["cursor_keys"] = tuple(data["cursor_keys"])
        return cls(**data)


# -- checks of a checkpoint ---------------------------------------------------------------

_FINGERPRINT = re.compile(r"[0-9a-f]{32}")
_MAX_OPERATION_ID = 200
_CHECKPOINT_FIELDS = frozenset(f.name for f in attrs.fields(Checkpoint))
_OPTIONAL_FIELDS = frozenset({"order"})  # added later: a checkpoint saved without it is read


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _integer_problem(name: str, value: object, high: int, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if type(value) is not int or not 0 <= value <= high:
        return f"{name} must be an integer in 0..{high}, got {_show(value)}"
    return None


def _checkpoint_problem(data: object) -> str | None:
    """What makes `data` (a checkpoint's fields) unfit to resume a walk, or None."""
    if not isinstance(data, Mapping):
        return "not a JSON object"
    version = data.get("version")
    if type(version) is not int or version != 1:
        return f"not a version-1 weavr-async checkpoint (version {_show(version)})"
    extra = sorted(set(data) - _CHECKPOINT_FIELDS)
    if extra:
        return f"unknown fields {_show(extra)}"
    missing = sorted(_CHECKPOINT_FIELDS - _OPTIONAL_FIELDS - set(data))
    if missing:
        return f"missing fields {missing}"
    operation_id = data["operation_id"]
    if not isinstance(operation_id, str) or not 0 < len(operation_id) <= _MAX_OPERATION_ID:
        return f"operation_id must be a non-empty string, got {_show(operation_id)}"
    fingerprint = data["fingerprint"]
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        return f"fingerprint must be 32 hex digits, got {_show(fingerprint)}"
    for problem in (
        _integer_problem("yielded", data["yielded"], INT64_MAX),
        _integer_problem("pin", data["pin"], INT64_MAX, optional=True),
        _integer_problem("cursor", data["cursor"], INT64_MAX, optional=True),
        _integer_problem("offset", data["offset"], INT32_MAX),
        _integer_problem("total", data["total"], INT64_MAX, optional=True),
    ):
        if problem is not None:
            return problem
    keys = data["cursor_keys"]
    if not isinstance(keys, list | tuple) or not all(isinstance(k, str) for k in keys):
        return f"cursor_keys must be a list of strings, got {_show(keys)}"
    if keys and data["cursor"] is None:
        return "cursor_keys without a cursor"
    order = data.get("order")
    if order not in (None, "ASC", "DESC"):
        return f"order must be 'ASC', 'DESC' or null, got {_show(order)}"
    return None


# -- checks of a page ---------------------------------------------------------------------


def _malformed(operation: str, problem: str) -> MalformedResponse:
    return MalformedResponse(f"{operation}: {problem}", operation=operation)


def _kind(value: object) -> str:
    """How a wrong value is named in an error: its JSON kind, not its content."""
    if value is None:
        return "missing or null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return names.get(type(value), type(value).__name__)


def _int32(body: Mapping[str, Any], name: str, operation: str, where: str) -> int:
    value = body.get(name)
    if type(value) is not int:
        raise _malformed(operation, f"{where}: '{name}' is {_kind(value)}, not an integer")
    if not 0 <= value <= INT32_MAX:
        raise _malformed(operation, f"{where}: '{name}' {value} is outside 0..2**31-1 (int32)")
    return value


def _read_page(
    body: Any, *, operation: str, items_field: str, offset: int, limit: int
) -> Page[RawItem]:
    """A page body as the contract says it is, or MalformedResponse: never a value invented
    for one the server did not send."""
    where = f"page at offset {offset}"
    if not isinstance(body, Mapping):
        raise _malformed(operation, f"{where}: not a JSON object")
    items = body.get(items_field, [])
    if not isinstance(items, list):
        raise _malformed(operation, f"{where}: '{items_field}' is {_kind(items)}, not a list")
    if items and set(map(type, items)) != {dict}:
        index, bad = next((i, x) for i, x in enumerate(items) if type(x) is not dict)
        raise _malformed(
            operation, f"{where}: item {index} of '{items_field}' is {_kind(bad)}, not an object"
        )
    count = _int32(body, "count", operation, where)
    served = len(items)
    if "responseCount" in body:
        # The contract types responseCount as int32 and describes it no further; read as its
        # name says, the number of entries in this response. A page whose number disagrees
        # with the entries it holds contradicts itself (entries lost on the way, or a wrong
        # number), and nothing here can tell which: malformed, not believed either way.
        response_count = _int32(body, "responseCount", operation, where)
        if response_count != served:
            raise _malformed(
                operation, f"{where}: responseCount {response_count}, but {served} entries served"
            )
    if served > limit:
        raise _malformed(operation, f"{where}: {served} entries served, at most {limit} asked")
    if served > count - offset:
        raise _malformed(operation, f"{where}: {served} entries served but count is {count}")
    return Page(items, offset, count, served)


def _timestamps(items: list[RawItem], field: str, operation: str, offset: int) -> list[int]:
    """The entries' timestamps, each an integer (their range is checked at the page's ends,
    once the page is known to be sorted)."""
    stamps: list[Any] = [item.get(field) for item in items]
    if stamps and set(map(type, stamps)) != {int}:
        index, bad = next((i, s) for i, s in enumerate(stamps) if type(s) is not int)
        raise _malformed(
            operation, f"entry {offset + index}: '{field}' is {_kind(bad)}, not an integer"
        )
    return stamps


def _check_epoch(stamp: int, operation: str, field: str) -> None:
    if not 0 <= stamp < INT64_MAX:  # the pin, one past the newest entry, must fit int64 too
        raise _malformed(operation, f"'{field}' {stamp} is outside int64 epoch milliseconds")


def _in_order(stamps: list[int], order: Order) -> bool:
    # Sorting data that is already sorted is one linear pass in C (timsort finds one run).
    return stamps == sorted(stamps, reverse=order == "DESC")


def _direction(stamps: list[int], operation: str, field: str) -> Order | None:
    """The order a page of entries is in: None when every timestamp is the same."""
    if min(stamps) == max(stamps):
        return None
    order: Order = "DESC" if stamps[0] > stamps[-1] else "ASC"
    if not _in_order(stamps, order):
        raise _malformed(operation, f"the first page is in no order of '{field}'")
    return order


def _balance(body: Mapping[str, Any], name: str, operation: str) -> CurrencyAmount | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, Mapping):
        raise _malformed(operation, f"'{name}' is {_kind(value)}, not an object")
    amount = value.get("amount")
    if type(amount) is not int or not -INT64_MAX - 1 <= amount <= INT64_MAX:
        raise _malformed(operation, f"'{name}.amount' is {_kind(amount)}, not an int64")
    if not isinstance(value.get("currency"), str):
        raise _malformed(operation, f"'{name}.currency' is {_kind(value.get('currency'))}")
    try:
        return structure(value, CurrencyAmount)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _malformed(operation, f"'{name}' is not a CurrencyAmount: {exc}") from exc


def _footer(body: Mapping[str, Any], operation: str) -> str | None:
    if "footer" not in body:
        return None
    footer = body["footer"]
    if not isinstance(footer, str):
        raise _malformed(operation, f"'footer' is {_kind(footer)}, not a string")
    return footer


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
        budget: RateBudget | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._budget = budget
        self._fetch = fetch
        self._item_type = item_type
        self._params = dict(params)
        self._filters = query_pairs(params)
        self._page_size = page_size
        self._concurrency = concurrency
        self._operation_id = endpoint.operation.operation_id
        self._fingerprint = _fingerprint(self._operation_id, self._filters, path_params)
        if checkpoint is not None:
            self._check_resumable(checkpoint)
        self._start = checkpoint
        self._on_progress = on_progress
        self.progress = Progress()
        self._state: _WalkState | None = None

    def __repr__(self) -> str:
        return (
            f"Stream({self._operation_id}, page_size={self._page_size}, "
            f"concurrency={self._concurrency}, progress={self.progress})"
        )

    def _check_resumable(self, checkpoint: Checkpoint) -> None:
        # A Checkpoint built by hand is held to what `from_json` checks.
        problem = _checkpoint_problem(attrs.asdict(checkpoint))
        if problem is not None:
            raise ValueError(problem)
        if checkpoint.operation_id != self._operation_id:
            raise ValueError(
                f"checkpoint is for {checkpoint.operation_id}, not {self._operation_id}"
            )
        if checkpoint.fingerprint != self._fingerprint:
            raise ValueError("checkpoint was taken with other arguments or filters")
        rule = self._endpoint.snapshot
        if rule is None:
            if checkpoint.pin is not None or checkpoint.cursor is not None or checkpoint.order:
                raise ValueError("checkpoint holds a time cursor, but this listing has none")
            return
        if checkpoint.yielded > 0 and checkpoint.pin is None:
            raise ValueError("checkpoint has entries yielded but no snapshot pin")
        if rule.order_param is not None and checkpoint.order not in (None, self._order(rule)):
            raise ValueError(f"checkpoint was taken walking {checkpoint.order}")

    # -- public surface -------------------------------------------------------------------

    @property
    def checkpoint(self) -> Checkpoint:
        """Where the current (or last) walk stands: every item yielded so far is behind it."""
        state = self._state
        if state is None:
            if self._start is not None:
                return self._start
            return Checkpoint(self._operation_id, self._fingerprint, 0)
        cursor = state.cursor_now()
        return Checkpoint(
            operation_id=self._operation_id,
            fingerprint=self._fingerprint,
            yielded=state.yielded_items(),
            pin=state.pin,
            cursor=cursor.ts,
            cursor_keys=tuple(sorted(cursor.keys.elements())),
            offset=state.next_offset_for_resume(),
            total=self.progress.total,
            order=state.order,
        )

    def __aiter__(self) -> AsyncGenerator[T, None]:
        return self._items(decode=True)

    def raw(self) -> AsyncGenerator[RawItem, None]:
        """The entries as the API's JSON objects, undecoded: the fastest way through a walk."""
        return self._items(decode=False)

    def plan(self) -> WalkPlan | None:
        """What the rest of the current walk needs: page requests, and the seconds they take
        under the client's rate budget from its state now; None until the first page has
        told the total. A plan, not a reservation (other callers draw on the budget too)."""
        total = self.progress.total
        if total is None:
            return None
        yielded = self._state.yielded_items() if self._state is not None else 0
        left = max(0, total - yielded)
        requests = math.ceil(left / self._page_size)
        seconds = self._budget.time_for(requests) if self._budget is not None else 0.0
        return WalkPlan(entries=left, requests=requests, seconds=seconds)

    async def pages(self) -> AsyncGenerator[Page[T], None]:
        walk = self._begin(typed=True, balances=self._endpoint.balances)
        try:
            while (page := await self._next_page(walk)) is not None:
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
            while (page := await self._next_page(walk)) is not None:
                state = walk.state
                for index, item in enumerate(page.items, 1):
                    state.consumed = index
                    yield item
                self._after_yield(page)
            self.progress.total = self.progress.items
        finally:
            await walk.close()

    async def _next_page(self, walk: _Walk) -> Page[Any] | None:
        try:
            return await walk.next_page()
        except BudgetExhausted as exc:
            # The walk stops where it stands, and says where that is: resume from here once
            # the budget returns (`exc.available_at`).
            exc.checkpoint = self.checkpoint
            raise

    def _begin(self, *, typed: bool, balances: bool) -> _Walk:
        self.progress = Progress()
        state = _WalkState.from_checkpoint(self._start)
        rule = self._endpoint.snapshot
        state.ts_field = self._timestamp_field()
        state.key_fields = self._endpoint.key_fields
        if rule is not None and state.pin is not None and state.order is None:
            # A checkpoint saved before walks recorded their order: the order they assumed.
            state.order = self._order(rule)
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
            raise _malformed(
                self._operation_id,
                f"an item does not fit {self._item_type.__name__}: {type(exc).__name__}: {exc}",
            ) from exc
        finally:
            if enabled:
                gc.enable()

    def _statement_parts(
        self, body: Mapping[str, Any]
    ) -> tuple[CurrencyAmount | None, CurrencyAmount | None, str | None]:
        operation = self._operation_id
        return (
            _balance(body, "startBalance", operation),
            _balance(body, "endBalance", operation),
            _footer(body, operation),
        )

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

    def _query(self, pairs: QueryPairs, offset: int, limit: int) -> QueryPairs:
        if not 0 <= offset <= INT32_MAX:
            # Unreachable from counts that passed their checks; kept as the one gate every
            # request passes, so no arithmetic on server numbers can ever send one.
            raise _malformed(self._operation_id, f"offset {offset} is beyond the API's int32")
        return [*pairs, ("offset", str(offset)), (self._endpoint.limit_param, str(limit))]

    def _page(self, body: Any, offset: int, limit: int) -> PageAndBody:
        page = _read_page(
            body,
            operation=self._operation_id,
            items_field=self._endpoint.items_field,
            offset=offset,
            limit=limit,
        )
        return page, body

    def _stamps(self, items: list[RawItem], offset: int) -> list[int]:
        rule = self._endpoint.snapshot
        assert rule is not None
        return _timestamps(items, rule.timestamp_field, self._operation_id, offset)

    async def _get(
        self, pairs: QueryPairs, offset: int, *, limit: int | None = None
    ) -> PageAndBody:
        """Fetch and check a page now (the first of a segment, or a probe)."""
        size = self._page_size if limit is None else limit
        query = self._query(pairs, offset, size)
        self.progress.requests += 1
        body = await self._fetch(query, True)
        return self._page(body, offset, size)

    async def _fetch_ahead(self, pairs: QueryPairs, offset: int, limit: int) -> _Fetched:
        """Fetch a page ahead of the consumer, kept as bytes until its turn.

        Buffered pages as bytes rather than decoded dicts are several times smaller, and the
        cyclic GC has nothing in them to traverse again and again while they wait: that was
        measured as the largest cost of a walk after JSON decoding itself.
        """
        query = self._query(pairs, offset, limit)
        self.progress.requests += 1
        body: bytes = await self._fetch(query, False)
        return _Fetched(query, offset, limit, body)


PageAndBody = tuple[Page[RawItem], Mapping[str, Any]]


class _Segment:
    """Offsets of one segment (fixed filters and bounds), fetched ahead within `concurrency`
    and handed out in order. Offsets are computed as they are launched, never listed: a
    `count` near the int32 limit costs nothing until its pages are asked for.

    On time-ordered endpoints a segment knows its `order` and the bounds it sent, and checks
    each page against them and against the page before; elsewhere it checks that no entry
    comes back on two pages."""

    def __init__(
        self,
        stream: Stream[Any],
        pairs: QueryPairs,
        first: PageAndBody,
        keep: _SnapshotFilter | None,
        start_offset: int,
        dedupe: frozenset[str],
        *,
        order: Order | None = None,
        lower: int | None = None,
        upper: int | None = None,
    ) -> None:
        self.stream = stream
        self.pairs = pairs
        self.keep = keep
        self.dedupe = dedupe
        self.start_offset = start_offset
        self.expected = first[0].count
        self.order = order
        self.lower = lower
        self.upper = upper
        self.last_ts: int | None = None
        self.last_keys: frozenset[str] = frozenset()
        self._first: PageAndBody | None = first
        step = stream._page_size
        served = first[0].response_count
        if 0 < served < min(step, self.expected - start_offset):
            # The API answered fewer entries than asked although more remain: it caps pages
            # below our page size. Its page size is the step (and the limit asked from now on,
            # so a later page serving more is caught), or offsets would skip entries.
            step = served
        self.step = step
        self._next_offset = start_offset + step
        self._in_flight: deque[asyncio.Task[_Fetched]] = deque()

    def _launch(self) -> None:
        stream = self.stream
        while self._next_offset < self.expected and len(self._in_flight) < stream._concurrency:
            fetch = stream._fetch_ahead(self.pairs, self._next_offset, self.step)
            self._next_offset += self.step
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

    def check_stamps(self, stamps: list[int], offset: int) -> None:
        """The page's timestamps are in the segment's order, follow the page before, and lie
        within the bounds the segment sent (either inclusive or exclusive)."""
        if not stamps:
            return
        stream = self.stream
        order = self.order
        field = stream._timestamp_field()
        assert order is not None and field is not None
        if not _in_order(stamps, order):
            raise _malformed(
                stream._operation_id,
                f"page at offset {offset}: entries not in {order} order of '{field}'",
            )
        first, last = stamps[0], stamps[-1]
        before = self.last_ts
        if before is not None and (first > before if order == "DESC" else first < before):
            raise _malformed(
                stream._operation_id,
                f"page at offset {offset} starts at {field} {first}, out of {order} order "
                f"after the page before it ended at {before}",
            )
        low, high = (last, first) if order == "DESC" else (first, last)
        _check_epoch(low, stream._operation_id, field)
        _check_epoch(high, stream._operation_id, field)
        if (self.lower is not None and low < self.lower) or (
            self.upper is not None and high > self.upper
        ):
            raise _malformed(
                stream._operation_id,
                f"page at offset {offset}: an entry's {field} is outside the bounds asked "
                f"({self.lower}..{self.upper})",
            )
        self.last_ts = last

    def check_keys(self, items: list[RawItem], offset: int) -> None:
        """No entry twice: within a segment the list did not change (its count held), so an
        entry on two pages is the API paging wrongly, and would be yielded twice."""
        fields = self.stream._endpoint.key_fields
        keys = [_entry_key(item, fields) for item in items]
        unique = frozenset(keys)
        if len(unique) < len(keys) or not unique.isdisjoint(self.last_keys):
            raise _malformed(
                self.stream._operation_id, f"page at offset {offset}: an entry served twice"
            )
        self.last_keys = unique

    async def close(self) -> None:
        tasks = list(self._in_flight)
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class _Walk:
    """The pages of one walk, segment after segment: pins the snapshot, checks every page
    against its segment, and starts a repair segment when the window changed."""

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
                    ready = self._prepare(segment, got[1], got[0].offset, stream._page_size)
            if ready is _UNREADABLE:
                # Unreadable when its turn came: fetched again, through the transport's
                # retries, which turn a body that stays broken into MalformedResponse.
                assert isinstance(got, _Fetched)
                stream.progress.requests += 1
                refetched = await stream._fetch(got.query, True)
                with _gc_paused():
                    ready = self._prepare(segment, refetched, got.offset, got.limit)
                del refetched
            if isinstance(ready, Page):
                # Only a page that moves the walk forward ends a run of repairs: an empty one
                # (all filtered away, or nothing served) proves nothing, or a server counting
                # entries it never serves would be asked for empty pages forever.
                if ready.items:
                    self._fruitless = 0
                return ready
            # The window changed under the walk (or a short page: entries vanished from it).
            await segment.close()
            self._segment = None
            state.repairs += 1
            stream.progress.repairs = state.repairs
            self._fruitless += 1
            if self._fruitless > MAX_FRUITLESS_REPAIRS:
                raise _malformed(
                    stream._operation_id,
                    f"the result changed on every page ({self._fruitless} repairs in a row "
                    "without an entry to show): its count is not what it serves",
                )
        return None

    def _prepare_fetched(self, segment: _Segment, fetched: _Fetched) -> Page[Any] | _Marker:
        # The decoded body lives in this frame only: when typed, its JSON objects are freed
        # on return, before the collector resumes.
        body = _decode_object(fetched.body)
        if body is None:
            return _UNREADABLE
        return self._prepare(segment, body, fetched.offset, fetched.limit)

    def _prepare(
        self, segment: _Segment, body: Any, offset: int, limit: int
    ) -> Page[Any] | _Marker:
        """Check one page against its segment, filter it, and build its models; or say that
        the window changed (`_CHANGED`)."""
        stream = self.stream
        page, body = stream._page(body, offset, limit)
        short = page.response_count < min(segment.step, segment.expected - page.offset)
        if page.count != segment.expected or short:
            self._changed_count = page.count
            return _CHANGED
        items: list[Any] = page.items
        if segment.order is not None:
            stamps = stream._stamps(items, offset)
            segment.check_stamps(stamps, offset)
            if segment.keep is not None:
                items = segment.keep.apply(items, stamps)
        elif items:
            segment.check_keys(items, offset)
        if segment.dedupe:
            fields = stream._endpoint.key_fields
            items = [i for i in items if _entry_key(i, fields) not in segment.dedupe]
            segment.dedupe = frozenset()
        start = end = footer = None
        if self.balances:
            start, end, footer = stream._statement_parts(body)
        if self.typed:
            items = stream._decode(items)
        self.state.begin_page(items)
        return Page(items, page.offset, page.count, page.response_count, start, end, footer)

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
            shrunk = state.segment_count - self._changed_count
            if shrunk > len(state.last_page_items):
                # Entries left the list; if they left it after the walk's offset, stepping
                # back by as many re-reads entries already yielded, and only the last page's
                # can be recognised and skipped. Repair or raise, never yield twice.
                raise _malformed(
                    stream._operation_id,
                    f"the list shrank by {shrunk} entries mid-walk, more than the "
                    f"{len(state.last_page_items)} the walk can recognise to skip",
                )
            offset = max(0, state.offset - shrunk)
            fields = stream._endpoint.key_fields
            dedupe = frozenset(_entry_key(i, fields) for i in state.last_page_items)
        first = await stream._get(pairs, offset)
        return _Segment(stream, pairs, first, None, offset, dedupe)

    async def _snapshot_segment(self, rule: SnapshotRule) -> _Segment | None:
        stream = self.stream
        state = self.state
        user_lower = _as_int(stream._params.get(rule.lower_param))
        user_upper = _as_int(stream._params.get(rule.upper_param))
        first: PageAndBody | None = None
        floor: int | None = None
        if state.pin is None:
            pinned = await self._pin(rule, user_lower, user_upper)
            if pinned is None:
                return None  # nothing to walk
            first, floor = pinned
        order = state.order
        pin = state.pin
        assert order is not None and pin is not None
        cursor = state.cursor_now()
        if order == "DESC":
            lower = user_lower
            upper = pin if cursor.ts is None else min(pin, cursor.ts + 1)
        else:
            lower = user_lower if cursor.ts is None else max(0, cursor.ts - 1)
            upper = pin
        pairs = stream._pairs(rule, lower, upper, order=order)
        keep = _SnapshotFilter(order, pin, cursor, stream._endpoint.key_fields)
        if first is None:
            first = await stream._get(pairs, 0)
            if floor is not None and first[0].count < floor:
                raise _malformed(
                    stream._operation_id,
                    f"{floor} entries were counted when the walk pinned its snapshot, but "
                    f"only {first[0].count} lie before the entry served as the newest: the "
                    f"entries are not in the order the walk relies on",
                )
        return _Segment(
            stream, pairs, first, keep, 0, frozenset(), order=order, lower=lower, upper=upper
        )

    async def _pin(
        self, rule: SnapshotRule, user_lower: int | None, user_upper: int | None
    ) -> tuple[PageAndBody | None, int | None] | None:
        """Find the newest entry that exists now, and the order to walk in; pin the snapshot
        just past that entry. Returns a first page the walk may reuse, and the count that the
        pinned window must reach when the newest entry came from a one-entry probe (a probe
        the API answered in another order than asked would otherwise pin too early and end
        the walk short). None when there is nothing to walk."""
        stream = self.stream
        operation = stream._operation_id
        field = rule.timestamp_field
        reuse: PageAndBody | None = None
        floor: int | None = None
        if rule.order_param is not None:
            order = stream._order(rule)
            newest_first = stream._pairs(rule, user_lower, user_upper, order="DESC")
            if order == "DESC":
                reuse = await stream._get(newest_first, 0)
                head = reuse[0]
            else:
                head = (await stream._get(newest_first, 0, limit=1))[0]
                floor = head.count
            stamps = stream._stamps(head.items, 0)
            if not stamps:
                self._check_nothing(head)
                return None
            newest = stamps[0]  # the page's order is checked with the segment's first page
        else:
            # The API does not say how this list is ordered: read it from the data.
            pairs = stream._pairs(rule, user_lower, user_upper)
            reuse = await stream._get(pairs, 0)
            head = reuse[0]
            stamps = stream._stamps(head.items, 0)
            if not stamps:
                self._check_nothing(head)
                return None
            found = _direction(stamps, operation, field)
            last: int | None = None
            if found != "DESC" and head.count > len(stamps):
                # Oldest first (its newest entry is the last one), or one timestamp all over
                # the first page: the last entry tells which.
                tail = (await stream._get(pairs, head.count - 1, limit=1))[0]
                if not tail.items:
                    raise _malformed(
                        operation, f"{head.count} entries counted, none at offset {head.count - 1}"
                    )
                last = stream._stamps(tail.items, head.count - 1)[0]
                if found is None and last != stamps[0]:
                    found = "DESC" if last < stamps[0] else "ASC"
                if found == "ASC" and last < stamps[-1]:
                    raise _malformed(operation, f"the entries are in no order of '{field}'")
            order = found or rule.fixed_order  # one timestamp throughout: any order walks it
            if order == "DESC" or last is None:
                newest = stamps[0] if order == "DESC" else stamps[-1]
            else:
                newest, reuse, floor = last, None, head.count
        _check_epoch(newest, operation, field)
        self.state.order = order
        self.state.pin = newest + 1 if user_upper is None else min(user_upper, newest + 1)
        return reuse, floor

    def _check_nothing(self, head: Page[RawItem]) -> None:
        """An empty first page is the end of the walk only if it counts no entries."""
        if head.count > 0:
            operation = self.stream._operation_id
            raise _malformed(operation, f"{head.count} entries counted, none served")


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
    limit: int
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
    """Drops what a segment's widened time bounds let in: entries at the pin (an API whose
    upper bound is inclusive), entries on the already-walked side of the cursor, and those at
    the cursor's timestamp already yielded. Pages reach it checked: sorted, in bounds."""

    order: Order
    pin: int
    cursor: _Cursor
    key_fields: tuple[str, ...] = ()
    _skip: Counter[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._skip = Counter(self.cursor.keys)

    def apply(self, items: list[RawItem], stamps: list[int]) -> list[RawItem]:
        if not items:
            return items
        pin = self.pin
        cur = self.cursor.ts
        desc = self.order == "DESC"
        # Pages are sorted by timestamp: when both ends are well inside the window, so is
        # every entry between them, and the page passes untouched (the common case).
        lo, hi = (stamps[-1], stamps[0]) if desc else (stamps[0], stamps[-1])
        if hi < pin and (cur is None or (hi < cur if desc else lo > cur)):
            return items
        skip = self._skip
        kept: list[RawItem] = []
        for item, t in zip(items, stamps, strict=True):
            if t >= pin:
                continue
            if cur is not None:
                if (desc and t > cur) or (not desc and t < cur):
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
    order: Order | None = None
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
            order=checkpoint.order,
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
