"""Statements: which entries a query selects, in which order, with which balances."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from typing import Any

import attrs

from ._entities import StoredIdentity
from ._history import KIND, PENDING_KINDS, STATEMENT_TYPES, ZERO_ADJUSTMENT_KINDS, Ledger
from ._instruments import post_transactions
from ._store import Store

__all__ = ["StatementPage", "StatementQuery", "entry_kinds", "statement"]

_ALL_KINDS: frozenset[int] = frozenset(range(len(STATEMENT_TYPES)))


@attrs.define
class StatementQuery:
    """Validated statement query parameters (timestamps as a half-open window)."""

    offset: int = 0
    limit: int = 100
    descending: bool = True
    from_ts: int | None = None
    to_ts: int | None = None
    kinds: frozenset[int] | None = None


@attrs.define
class StatementPage:
    """One page of statement entries, rendered as JSON, CSV or PDF by the app."""

    ledger: Ledger
    indexes: Sequence[int]
    count: int
    start_balance: int
    end_balance: int
    with_balances: bool

    def entries(self) -> list[dict[str, Any]]:
        """The page's StatementEntry dicts in serving order."""
        entry = self.ledger.entry
        wb = self.with_balances
        return [entry(i, wb) for i in self.indexes]

    def body(self) -> dict[str, Any]:
        """The Statement JSON body."""
        entries = self.entries()
        body: dict[str, Any] = {
            "entry": entries,
            "count": self.count,
            "responseCount": len(entries),
        }
        if self.with_balances:
            cur = self.ledger.currency
            body["startBalance"] = {"currency": cur, "amount": self.start_balance}
            body["endBalance"] = {"currency": cur, "amount": self.end_balance}
        return body


def entry_kinds(
    types: Collection[str] | None, fund_movements_only: bool, single_entry: bool
) -> frozenset[int] | None:
    """The entry kinds a statement query keeps (None: all): the ``transactionType`` union,
    less the kinds that move no funds (``showFundMovementsOnly``) and the PENDING ones
    (``singleEntryPerTransaction``)."""
    kinds = None if types is None else frozenset(KIND[t] for t in types)
    if fund_movements_only:
        kinds = (kinds if kinds is not None else _ALL_KINDS) - ZERO_ADJUSTMENT_KINDS
    if single_entry:
        kinds = (kinds if kinds is not None else _ALL_KINDS) - PENDING_KINDS
    return kinds


def statement(
    store: Store,
    identity: StoredIdentity,
    kind: str,
    inst_id: str,
    q: StatementQuery,
    arrivals: int,
) -> StatementPage:
    """The page ``q`` selects of the instrument's statement, after ``arrivals`` new entries.

    ``count`` counts every entry the query matches; the start and end balances are those
    before and after the timestamp window (filters by kind do not change them).
    """
    found = store.instrument_of(identity, kind, inst_id)
    if arrivals > 0:
        post_transactions(store, found, arrivals, None)
    ledger = found.ledger
    lo, hi = ledger.window(q.from_ts, q.to_ts)
    start_balance = ledger.balance_before(lo)
    end_balance = ledger.bal[hi - 1] if hi > lo else start_balance
    indexes: Sequence[int]
    if q.kinds is None:
        a, b = lo, hi
        base: Sequence[int] | None = None
    else:
        base = ledger.positions(q.kinds)
        a, b = bisect_left(base, lo), bisect_left(base, hi)
    count = b - a
    if q.descending:
        first = b - 1 - q.offset
        last = max(first - q.limit, a - 1)
        sel = range(first, last, -1) if first >= a else range(0)
    else:
        first = a + q.offset
        sel = range(first, min(first + q.limit, b))
    indexes = sel if base is None else [base[i] for i in sel]
    misstated = store.misstatements.get(found.id)
    if misstated is not None:
        indexes, end_balance = misstated.apply(ledger, indexes, end_balance)
    return StatementPage(
        ledger, indexes, count, start_balance, end_balance, with_balances=not found.is_debit
    )
