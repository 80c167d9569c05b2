"""What a paginated operation declares (Endpoint, SnapshotRule) and what a walk hands back
(Page, Progress, WalkPlan), with the wire types the engine shares."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import attrs

from .._operation import Operation
from ..models import CurrencyAmount

T = TypeVar("T")
Order = Literal["ASC", "DESC"]
RawItem = dict[str, Any]
"""One entry as the API's JSON object."""
INT32_MAX = 2**31 - 1
"""The contract types `offset`, `limit`, `count` and `responseCount` as int32."""
INT64_MAX = 2**63 - 1
"""The contract types timestamps and amounts as int64."""


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
