"""The snapshot a walk holds to, as pure logic: its time window, its cursor, what it filters out
of a page, and what it has yielded.

Statements and transfers are ordered by a timestamp, so a transaction posted mid-walk would
shift every offset by one and duplicate an entry. A walk therefore pins an upper time bound at
its start (just past the newest entry that existed then) and sends it on every later page. If
the `count` of a page still differs from the segment's (an entry was back-dated into the
window), the walk repairs: it drops the pages it has not yet yielded and starts a new segment
whose time bounds begin at the last entry it yielded, skipping the entries at that exact
timestamp it has already yielded. Time bounds are sent one millisecond wide of the cursor and
the excess is filtered here, so the walk is exact whether the API treats its bounds as
inclusive or exclusive.

The cursor is read from the entries as the API's JSON objects, whether the walk hands out
models or those objects: a checkpoint taken by either kind of walk resumes the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import orjson

from .._operation import QueryPairs
from .checkpoint import Checkpoint
from .values import Order, Page, RawItem, SnapshotRule


def entry_key(item: RawItem, fields: tuple[str, ...]) -> str:
    """Identity of an entry for de-duplication at a cursor: the scalars at the endpoint's
    identifying dotted paths (not the whole entry: a back-dated posting changes the balances
    of every later entry); the whole entry when the endpoint names none."""
    if not fields:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode()
    return orjson.dumps([_value_at(item, path) for path in fields]).decode()


def _value_at(item: RawItem, path: str) -> Any:
    """The value at a dotted path of a JSON object (None where any part is missing)."""
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
        if value is None:
            return None
    return value


def walk_order(rule: SnapshotRule, params: Mapping[str, object]) -> Order:
    """The order a walk asks for on an endpoint that takes one: the caller's, or the rule's."""
    if rule.order_param is not None:
        value = params.get(rule.order_param)
        if value in ("ASC", "DESC"):
            return value
    return rule.fixed_order


def user_bounds(rule: SnapshotRule, params: Mapping[str, object]) -> tuple[int | None, int | None]:
    """The time bounds the caller asked for (lower, upper), None where not given."""
    return _as_int(params.get(rule.lower_param)), _as_int(params.get(rule.upper_param))


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def segment_bounds(
    order: Order, pin: int, cursor: int | None, user_lower: int | None
) -> tuple[int | None, int]:
    """The time bounds a segment sends: from the caller's lower bound to the pin, narrowed to
    one millisecond wide of the cursor on the side already walked."""
    if order == "DESC":
        return user_lower, pin if cursor is None else min(pin, cursor + 1)
    return (user_lower if cursor is None else max(0, cursor - 1)), pin


def bounded_pairs(
    filters: QueryPairs,
    rule: SnapshotRule,
    lower: int | None,
    upper: int | None,
    *,
    order: Order | None = None,
) -> QueryPairs:
    """The caller's filters with the walk's time bounds (and order) in place of theirs."""
    replaced = {rule.lower_param, rule.upper_param}
    if order is not None and rule.order_param is not None:
        replaced.add(rule.order_param)
    pairs = [(k, v) for k, v in filters if k not in replaced]
    if order is not None and rule.order_param is not None:
        pairs.append((rule.order_param, order))
    if lower is not None:
        pairs.append((rule.lower_param, str(lower)))
    if upper is not None:
        pairs.append((rule.upper_param, str(upper)))
    return pairs


@attrs.define
class Cursor:
    """The last yielded timestamp and the keys yielded at it (a multiset)."""

    ts: int | None = None
    keys: Counter[str] = attrs.field(factory=Counter)


def entries_left(count: int, start_offset: int, keep: SnapshotFilter | None) -> int:
    """Entries a segment counting `count` still holds for the walk, from `start_offset`."""
    remaining = max(0, count - start_offset)
    if keep is not None:
        remaining -= sum(keep.cursor.keys.values())
    return max(0, remaining)


@attrs.define
class SnapshotFilter:
    """Drops what a segment's widened time bounds let in: entries at the pin (an API whose
    upper bound is inclusive), entries on the already-walked side of the cursor, and those at
    the cursor's timestamp already yielded. Pages reach it checked: sorted, in bounds."""

    order: Order
    pin: int
    cursor: Cursor
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
                    key = entry_key(item, self.key_fields)
                    if skip[key] > 0:
                        skip[key] -= 1
                        continue
            kept.append(item)
        return kept


class PageEntries:
    """The entries of the page being handed out, as the API's JSON objects, for the cursor.

    A typed walk hands out models built from them; holding the JSON objects beside the models
    while they are consumed was measured to cost that walk 4% (benchmarks/bench_walk.py). So
    such a page holds only a way to read them `again` (from its undecoded body), used when a
    checkpoint is asked for in the middle of the page, or a repair needs the page's keys."""

    __slots__ = ("_again", "_held", "count")

    def __init__(
        self, entries: list[RawItem], again: Callable[[], list[RawItem]] | None = None
    ) -> None:
        self.count = len(entries)
        self._held: list[RawItem] | None = entries if again is None else None
        self._again = again

    def entries(self) -> list[RawItem]:
        if self._held is None:
            assert self._again is not None
            self._held = self._again()
        return self._held


_NO_PAGE = PageEntries([])


@attrs.define
class WalkState:
    """Mutable progress of one walk: what has been yielded and where the cursor is.

    `current` is the page being handed out, `consumed` how many of its entries are out, and
    `page_end` where the cursor will be once all of them are (the cursor is always read from
    the entries as the API's JSON objects, never from models)."""

    pin: int | None = None
    order: Order | None = None
    yielded: int = 0
    offset: int = 0
    repairs: int = 0
    consumed: int = 0
    current: PageEntries = _NO_PAGE
    cursor: Cursor = attrs.field(factory=Cursor)
    page_end: Cursor = attrs.field(factory=Cursor)
    last_page: PageEntries = _NO_PAGE
    segment_count: int = 0
    ts_field: str | None = None
    key_fields: tuple[str, ...] = ()

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint | None) -> WalkState:
        if checkpoint is None:
            return cls()
        return cls(
            pin=checkpoint.pin,
            order=checkpoint.order,
            yielded=checkpoint.yielded,
            offset=checkpoint.offset,
            cursor=Cursor(checkpoint.cursor, Counter(checkpoint.cursor_keys)),
        )

    def begin_page(
        self, entries: list[RawItem], again: Callable[[], list[RawItem]] | None = None
    ) -> None:
        """Hand out a page of `entries`; `again`, if given, reads them once more, so that the
        walk need not hold them while the page is consumed."""
        self.page_end = self._advance(entries, len(entries))
        self.current = PageEntries(entries, again)
        self.consumed = 0

    def finish_page(self, page: Page[Any]) -> None:
        """All of the current page was yielded: move the cursor past it."""
        count = self.current.count
        self.cursor = self.page_end
        self.yielded += count
        self.offset = page.offset + max(page.response_count, count)
        # Only a walk without time bounds repairs by skipping the last page's entries; a
        # time-ordered one lets them go now rather than a page later (a raw walk would hold
        # two pages of JSON objects, for the collector to walk and promote).
        self.last_page = self.current if self.ts_field is None else _NO_PAGE
        self.current = _NO_PAGE
        self.consumed = 0

    def yielded_items(self) -> int:
        return self.yielded + self.consumed

    def next_offset_for_resume(self) -> int:
        return self.offset + self.consumed if self.consumed else self.offset

    def cursor_now(self) -> Cursor:
        consumed = self.consumed
        if not consumed or not self.current.count:
            return self.cursor
        if consumed == self.current.count:
            return self.page_end
        return self._advance(self.current.entries(), consumed)

    def _advance(self, entries: list[RawItem], n: int) -> Cursor:
        """The cursor after the first `n` of `entries`."""
        field = self.ts_field
        if field is None or n == 0:
            return self.cursor
        last = entries[n - 1].get(field)
        if not isinstance(last, int):
            return self.cursor
        keys: Counter[str] = Counter()
        index = n - 1
        while index >= 0 and entries[index].get(field) == last:
            keys[entry_key(entries[index], self.key_fields)] += 1
            index -= 1
        if index < 0 and self.cursor.ts == last:
            keys.update(self.cursor.keys)
        return Cursor(last, keys)


def checkpoint_of(
    state: WalkState, operation_id: str, fingerprint: str, total: int | None
) -> Checkpoint:
    """Where `state` stands, as a checkpoint: every entry handed out so far is behind it."""
    cursor = state.cursor_now()
    return Checkpoint(
        operation_id=operation_id,
        fingerprint=fingerprint,
        yielded=state.yielded_items(),
        pin=state.pin,
        cursor=cursor.ts,
        cursor_keys=tuple(sorted(cursor.keys.elements())),
        offset=state.next_offset_for_resume(),
        total=total,
        order=state.order,
    )
