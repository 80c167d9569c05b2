"""The walk: segments of offsets fetched ahead within the concurrency window, every page
checked against its segment, and a repair segment whenever the listing changed under it.

A walk learns the total `count` from its first page, then fetches the remaining offsets with up
to `concurrency` requests in flight and hands pages out strictly in order. It never holds more
than `concurrency` pages: a slow consumer holds the fetching back, so memory does not grow with
the history. Offsets are computed one at a time, never listed up front.

Statements are asked for their order (`orderByTimestamp`, always sent); transfers cannot be,
so their order is read from the data at the start of the walk. Endpoints without time filters
(bulk processes and their operations) repair by shifting the offset by the change in `count`
(new bulk processes arrive at the front) and skipping the entries of the last yielded page.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from typing import Any

from .._gc import gc_paused
from .._operation import QueryPairs
from .checks import check_epoch, check_served_once, check_stamps, direction, malformed
from .snapshot import (
    SnapshotFilter,
    WalkState,
    bounded_pairs,
    entries_left,
    entry_key,
    segment_bounds,
    user_bounds,
    walk_order,
)
from .source import BufferedPage, PageAndBody, PageSource
from .values import Order, Page, RawItem, SnapshotRule

PAGE_TASK_NAME = "weavr-async-page"
MAX_FRUITLESS_REPAIRS = 25
"""Repairs in a row with no entry yielded between them before a walk gives up with
MalformedResponse: a result that changes on every request, or that counts entries it never
serves, can never be walked exactly, and must not loop."""


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_CHANGED = _Marker("CHANGED")
_UNREADABLE = _Marker("UNREADABLE")


class Segment:
    """Offsets of one segment (fixed filters and bounds), fetched ahead within `concurrency`
    and handed out in order. Offsets are computed as they are launched, never listed: a
    `count` near the int32 limit costs nothing until its pages are asked for.

    On time-ordered endpoints a segment knows its `order` and the bounds it sent, and checks
    each page against them and against the page before; elsewhere it checks that no entry
    comes back on two pages. `keep` filters what widened bounds let in; `dedupe` holds the
    keys of entries already yielded that the segment's first page may serve again."""

    def __init__(
        self,
        source: PageSource,
        pairs: QueryPairs,
        first: PageAndBody,
        keep: SnapshotFilter | None,
        start_offset: int,
        dedupe: frozenset[str],
        *,
        order: Order | None = None,
        lower: int | None = None,
        upper: int | None = None,
    ) -> None:
        self.source = source
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
        self.tail_keys: frozenset[str] = frozenset()
        self.boundary_ts: int | None = None
        self._first: PageAndBody | None = first
        step = source.page_size
        served = first[0].response_count
        if 0 < served < min(step, self.expected - start_offset):
            # The API answered fewer entries than asked although more remain: it caps pages
            # below our page size. Its page size is the step (and the limit asked from now on,
            # so a later page serving more is caught), or offsets would skip entries.
            step = served
        self.step = step
        self._next_offset = start_offset + step
        self._in_flight: deque[asyncio.Task[BufferedPage]] = deque()

    def _launch(self) -> None:
        source = self.source
        while self._next_offset < self.expected and len(self._in_flight) < source.concurrency:
            fetch = source.fetch_ahead(self.pairs, self._next_offset, self.step)
            self._next_offset += self.step
            self._in_flight.append(asyncio.create_task(fetch, name=PAGE_TASK_NAME))

    async def next(self) -> PageAndBody | BufferedPage | None:
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
        within the bounds the segment sent."""
        rule = self.source.endpoint.snapshot
        assert self.order is not None and rule is not None
        check_stamps(
            stamps,
            offset,
            order=self.order,
            before=self.last_ts,
            lower=self.lower,
            upper=self.upper,
            operation=self.source.operation,
            field=rule.timestamp_field,
        )
        if stamps:
            self.last_ts = stamps[-1]

    def check_boundary(self, items: list[RawItem], stamps: list[int], offset: int) -> None:
        """No entry on both sides of a page boundary. Pages are in timestamp order (checked
        first), so an entry served twice by consecutive pages can only stand at the timestamp
        they share: only those entries' keys are compared. (An API that counts an entry but
        leaves it out of its page makes the next page overlap this way; believing it would
        yield one entry twice and lose the one left out, with the count still met.)"""
        if not stamps:
            return
        fields = self.source.endpoint.key_fields
        before, first, last = self.tail_keys, stamps[0], stamps[-1]
        if before and first == self.boundary_ts:
            leading = 0
            while leading < len(stamps) and stamps[leading] == first:
                leading += 1
            keys = {entry_key(item, fields) for item in items[:leading]}
            if not keys.isdisjoint(before):
                raise malformed(
                    self.source.operation, f"page at offset {offset}: an entry served twice"
                )
        trailing = len(stamps)
        while trailing > 0 and stamps[trailing - 1] == last:
            trailing -= 1
        self.tail_keys = frozenset(entry_key(item, fields) for item in items[trailing:])
        self.boundary_ts = last

    def check_keys(self, items: list[RawItem], offset: int) -> None:
        fields = self.source.endpoint.key_fields
        keys = [entry_key(item, fields) for item in items]
        self.last_keys = check_served_once(keys, self.last_keys, self.source.operation, offset)

    async def close(self) -> None:
        tasks = list(self._in_flight)
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class Walk:
    """The pages of one walk, segment after segment: pins the snapshot, checks every page
    against its segment, and starts a repair segment when the window changed."""

    def __init__(self, source: PageSource, state: WalkState, *, balances: bool) -> None:
        self.source = source
        self.state = state
        self.balances = balances
        self._segment: Segment | None = None
        self._done = False
        self._changed_count: int | None = None
        self._fruitless = 0

    async def next_page(self) -> Page[Any] | None:
        """The next page to hand out (models when the source decodes), or None at the end."""
        source = self.source
        progress = source.progress
        state = self.state
        while not self._done:
            if self._segment is None:
                self._segment = await self._start_segment()
                if self._segment is None:
                    self._done = True
                    break
                state.segment_count = self._segment.expected
                progress.total = state.yielded + entries_left(
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
            with gc_paused():
                if isinstance(got, BufferedPage):
                    ready = self._prepare_buffered(segment, got)
                else:
                    ready = self._prepare(segment, got[1], got[0].offset, source.page_size)
            if ready is _UNREADABLE:
                # Unreadable when its turn came: fetched again, through the transport's
                # retries, which turn a body that stays broken into MalformedResponse.
                assert isinstance(got, BufferedPage)
                refetched = await source.fetch_again(got)
                with gc_paused():
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
            progress.repairs = state.repairs
            self._fruitless += 1
            if self._fruitless > MAX_FRUITLESS_REPAIRS:
                raise malformed(
                    source.operation,
                    f"the result changed on every page ({self._fruitless} repairs in a row "
                    "without an entry to show): its count is not what it serves",
                )
        return None

    def _prepare_buffered(self, segment: Segment, buffered: BufferedPage) -> Page[Any] | _Marker:
        # The decoded body lives in this frame only: when typed, its JSON objects are freed
        # on return, before the collector resumes (the walk can read them again).
        body = buffered.json_object()
        if body is None:
            return _UNREADABLE
        return self._prepare(segment, body, buffered.offset, buffered.limit, buffered)

    def _prepare(
        self,
        segment: Segment,
        body: Any,
        offset: int,
        limit: int,
        buffered: BufferedPage | None = None,
    ) -> Page[Any] | _Marker:
        """Check one page against its segment, filter it, and build its models; or say that
        the window changed (`_CHANGED`)."""
        source = self.source
        page, body = source.read(body, offset, limit)
        short = page.response_count < min(segment.step, segment.expected - page.offset)
        if page.count != segment.expected or short:
            self._changed_count = page.count
            return _CHANGED
        entries = page.items
        if segment.order is not None:
            stamps = source.stamps(entries, offset)
            segment.check_stamps(stamps, offset)
            segment.check_boundary(entries, stamps, offset)
            if segment.keep is not None:
                entries = segment.keep.apply(entries, stamps)
        elif entries:
            segment.check_keys(entries, offset)
        if segment.dedupe:
            fields = source.endpoint.key_fields
            entries = [i for i in entries if entry_key(i, fields) not in segment.dedupe]
            segment.dedupe = frozenset()
        start = end = footer = None
        if self.balances:
            start, end, footer = source.statement_parts(body)
        if source.decode is None:
            items: list[Any] = entries
            self.state.begin_page(entries)
        else:
            items = source.decode(entries)
            again = None
            if buffered is not None:
                kept = _kept_indices(page.items, entries)
                again = functools.partial(buffered.entries, source.endpoint.items_field, kept)
            self.state.begin_page(entries, again)
        return Page(items, page.offset, page.count, page.response_count, start, end, footer)

    async def close(self) -> None:
        if self._segment is not None:
            await self._segment.close()
            self._segment = None

    async def _start_segment(self) -> Segment | None:
        rule = self.source.endpoint.snapshot
        if rule is None:
            return await self._offset_segment()
        return await self._snapshot_segment(rule)

    async def _offset_segment(self) -> Segment:
        """Endpoints without time bounds: new entries arrive at the front, so a changed count
        shifts the offsets by the difference, and the last page's entries are skipped."""
        source = self.source
        state = self.state
        pairs = list(source.filters)
        offset = state.offset
        dedupe: frozenset[str] = frozenset()
        if self._changed_count is not None:
            shrunk = state.segment_count - self._changed_count
            if shrunk > state.last_page.count:
                # Entries left the list; if they left it after the walk's offset, stepping
                # back by as many re-reads entries already yielded, and only the last page's
                # can be recognised and skipped. Repair or raise, never yield twice.
                raise malformed(
                    source.operation,
                    f"the list shrank by {shrunk} entries mid-walk, more than the "
                    f"{state.last_page.count} the walk can recognise to skip",
                )
            offset = max(0, state.offset - shrunk)
            fields = source.endpoint.key_fields
            dedupe = frozenset(entry_key(i, fields) for i in state.last_page.entries())
        first = await source.get(pairs, offset)
        return Segment(source, pairs, first, None, offset, dedupe)

    async def _snapshot_segment(self, rule: SnapshotRule) -> Segment | None:
        source = self.source
        state = self.state
        user_lower, user_upper = user_bounds(rule, source.params)
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
        lower, upper = segment_bounds(order, pin, cursor.ts, user_lower)
        pairs = bounded_pairs(source.filters, rule, lower, upper, order=order)
        keep = SnapshotFilter(order, pin, cursor, source.endpoint.key_fields)
        if first is None:
            first = await source.get(pairs, 0)
            if floor is not None and first[0].count < floor:
                raise malformed(
                    source.operation,
                    f"{floor} entries were counted when the walk pinned its snapshot, but "
                    f"only {first[0].count} lie before the entry served as the newest: the "
                    f"entries are not in the order the walk relies on",
                )
        return Segment(
            source, pairs, first, keep, 0, frozenset(), order=order, lower=lower, upper=upper
        )

    async def _pin(
        self, rule: SnapshotRule, user_lower: int | None, user_upper: int | None
    ) -> tuple[PageAndBody | None, int | None] | None:
        """Find the newest entry that exists now, and the order to walk in; pin the snapshot
        just past that entry. Returns a first page the walk may reuse, and the count that the
        pinned window must reach when the newest entry came from a one-entry probe (a probe
        the API answered in another order than asked would otherwise pin too early and end
        the walk short). None when there is nothing to walk."""
        source = self.source
        operation = source.operation
        field = rule.timestamp_field
        reuse: PageAndBody | None = None
        floor: int | None = None
        if rule.order_param is not None:
            order = walk_order(rule, source.params)
            newest_first = bounded_pairs(source.filters, rule, user_lower, user_upper, order="DESC")
            if order == "DESC":
                reuse = await source.get(newest_first, 0)
                head = reuse[0]
            else:
                head = (await source.get(newest_first, 0, limit=1))[0]
                floor = head.count
            stamps = source.stamps(head.items, 0)
            if not stamps:
                self._check_nothing(head)
                return None
            newest = stamps[0]  # the page's order is checked with the segment's first page
        else:
            # The API does not say how this list is ordered: read it from the data.
            pairs = bounded_pairs(source.filters, rule, user_lower, user_upper)
            reuse = await source.get(pairs, 0)
            head = reuse[0]
            stamps = source.stamps(head.items, 0)
            if not stamps:
                self._check_nothing(head)
                return None
            found = direction(stamps, operation, field)
            last: int | None = None
            if found != "DESC" and head.count > len(stamps):
                # Oldest first (its newest entry is the last one), or one timestamp all over
                # the first page: the last entry tells which.
                tail = (await source.get(pairs, head.count - 1, limit=1))[0]
                if not tail.items:
                    raise malformed(
                        operation, f"{head.count} entries counted, none at offset {head.count - 1}"
                    )
                last = source.stamps(tail.items, head.count - 1)[0]
                if found is None and last != stamps[0]:
                    found = "DESC" if last < stamps[0] else "ASC"
                if found == "ASC" and last < stamps[-1]:
                    raise malformed(operation, f"the entries are in no order of '{field}'")
            order = found or rule.fixed_order  # one timestamp throughout: any order walks it
            if order == "DESC" or last is None:
                newest = stamps[0] if order == "DESC" else stamps[-1]
            else:
                newest, reuse, floor = last, None, head.count
        check_epoch(newest, operation, field)
        self.state.order = order
        self.state.pin = newest + 1 if user_upper is None else min(user_upper, newest + 1)
        return reuse, floor

    def _check_nothing(self, head: Page[RawItem]) -> None:
        """An empty first page is the end of the walk only if it counts no entries."""
        if head.count > 0:
            raise malformed(self.source.operation, f"{head.count} entries counted, none served")


def _kept_indices(served: list[RawItem], kept: list[RawItem]) -> tuple[int, ...] | None:
    """Where the entries the filters `kept` stand among those `served` (None: all of them)."""
    if kept is served:
        return None
    ids = {id(entry) for entry in kept}
    return tuple(index for index, entry in enumerate(served) if id(entry) in ids)
