"""What a page must satisfy before it is believed: pure checks, each failure MalformedResponse.

`count` and `responseCount` are int32s that agree with what was served, every item is a JSON
object, and on time-ordered endpoints every entry carries an integer timestamp, inside the time
bounds asked, in the walk's order within the page and across pages. A statement's balances and
footer have the contract's types. Nothing here invents a value the server did not send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MalformedResponse
from ..models import CurrencyAmount, structure
from .values import INT32_MAX, INT64_MAX, Order, Page, RawItem

StatementParts = tuple[CurrencyAmount | None, CurrencyAmount | None, str | None]
"""A statement page's start balance, end balance and footer."""


def malformed(operation: str, problem: str) -> MalformedResponse:
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
        raise malformed(operation, f"{where}: '{name}' is {_kind(value)}, not an integer")
    if not 0 <= value <= INT32_MAX:
        raise malformed(operation, f"{where}: '{name}' {value} is outside 0..2**31-1 (int32)")
    return value


def read_page(
    body: Any, *, operation: str, items_field: str, offset: int, limit: int
) -> Page[RawItem]:
    """A page body as the contract says it is, or MalformedResponse: never a value invented
    for one the server did not send."""
    where = f"page at offset {offset}"
    if not isinstance(body, Mapping):
        raise malformed(operation, f"{where}: not a JSON object")
    items = body.get(items_field, [])
    if not isinstance(items, list):
        raise malformed(operation, f"{where}: '{items_field}' is {_kind(items)}, not a list")
    if items and set(map(type, items)) != {dict}:
        index, bad = next((i, x) for i, x in enumerate(items) if type(x) is not dict)
        raise malformed(
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
            raise malformed(
                operation, f"{where}: responseCount {response_count}, but {served} entries served"
            )
    if served > limit:
        raise malformed(operation, f"{where}: {served} entries served, at most {limit} asked")
    if served > count - offset:
        raise malformed(operation, f"{where}: {served} entries served but count is {count}")
    return Page(items, offset, count, served)


def timestamps(items: list[RawItem], field: str, operation: str, offset: int) -> list[int]:
    """The entries' timestamps, each an integer (their range is checked at the page's ends,
    once the page is known to be sorted)."""
    stamps: list[Any] = [item.get(field) for item in items]
    if stamps and set(map(type, stamps)) != {int}:
        index, bad = next((i, s) for i, s in enumerate(stamps) if type(s) is not int)
        raise malformed(
            operation, f"entry {offset + index}: '{field}' is {_kind(bad)}, not an integer"
        )
    return stamps


def check_epoch(stamp: int, operation: str, field: str) -> None:
    if not 0 <= stamp < INT64_MAX:  # the pin, one past the newest entry, must fit int64 too
        raise malformed(operation, f"'{field}' {stamp} is outside int64 epoch milliseconds")


def in_order(stamps: list[int], order: Order) -> bool:
    # Sorting data that is already sorted is one linear pass in C (timsort finds one run).
    return stamps == sorted(stamps, reverse=order == "DESC")


def direction(stamps: list[int], operation: str, field: str) -> Order | None:
    """The order a page of entries is in: None when every timestamp is the same."""
    if min(stamps) == max(stamps):
        return None
    order: Order = "DESC" if stamps[0] > stamps[-1] else "ASC"
    if not in_order(stamps, order):
        raise malformed(operation, f"the first page is in no order of '{field}'")
    return order


def check_stamps(
    stamps: list[int],
    offset: int,
    *,
    order: Order,
    before: int | None,
    lower: int | None,
    upper: int | None,
    operation: str,
    field: str,
) -> None:
    """A page's timestamps are in the walk's order, follow the page `before` (its last
    timestamp), and lie within the bounds sent (either inclusive or exclusive)."""
    if not stamps:
        return
    if not in_order(stamps, order):
        raise malformed(
            operation, f"page at offset {offset}: entries not in {order} order of '{field}'"
        )
    first, last = stamps[0], stamps[-1]
    if before is not None and (first > before if order == "DESC" else first < before):
        raise malformed(
            operation,
            f"page at offset {offset} starts at {field} {first}, out of {order} order "
            f"after the page before it ended at {before}",
        )
    low, high = (last, first) if order == "DESC" else (first, last)
    check_epoch(low, operation, field)
    check_epoch(high, operation, field)
    if (lower is not None and low < lower) or (upper is not None and high > upper):
        raise malformed(
            operation,
            f"page at offset {offset}: an entry's {field} is outside the bounds asked "
            f"({lower}..{upper})",
        )


def check_served_once(
    keys: list[str], before: frozenset[str], operation: str, offset: int
) -> frozenset[str]:
    """No entry twice, on this page or the one `before` it (its entries' keys): within a
    segment the list did not change (its count held), so an entry on two pages is the API
    paging wrongly, and would be yielded twice. Returns this page's keys."""
    unique = frozenset(keys)
    if len(unique) < len(keys) or not unique.isdisjoint(before):
        raise malformed(operation, f"page at offset {offset}: an entry served twice")
    return unique


def _balance(body: Mapping[str, Any], name: str, operation: str) -> CurrencyAmount | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, Mapping):
        raise malformed(operation, f"'{name}' is {_kind(value)}, not an object")
    amount = value.get("amount")
    if type(amount) is not int or not -INT64_MAX - 1 <= amount <= INT64_MAX:
        raise malformed(operation, f"'{name}.amount' is {_kind(amount)}, not an int64")
    if not isinstance(value.get("currency"), str):
        raise malformed(operation, f"'{name}.currency' is {_kind(value.get('currency'))}")
    try:
        return structure(value, CurrencyAmount)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise malformed(operation, f"'{name}' is not a CurrencyAmount: {exc}") from exc


def _footer(body: Mapping[str, Any], operation: str) -> str | None:
    if "footer" not in body:
        return None
    footer = body["footer"]
    if not isinstance(footer, str):
        raise malformed(operation, f"'footer' is {_kind(footer)}, not a string")
    return footer


def statement_parts(body: Mapping[str, Any], operation: str) -> StatementParts:
    """A statement page's balances and footer, each checked (None where not sent)."""
    return (
        _balance(body, "startBalance", operation),
        _balance(body, "endBalance", operation),
        _footer(body, operation),
    )
