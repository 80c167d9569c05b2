"""The demo's reconciliation of its walks, page by page, in constant memory.

Statements are checked by `weavr_async.reconcile`'s `StatementChecks`, told here as short
phrases. Transfer walks are checked for duplicates without remembering the whole walk: the walk
is ordered by timestamp, so a repeated transfer can only reappear among those of its own
timestamp; the checker keeps the keys of the current timestamp only, and separately flags any
step backwards in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs

from ..models import CurrencyAmount, StatementEntry, Transfer
from ..reconcile import StatementChecks

__all__ = ["OrderedKeys", "StatementCheck", "TransferCheck"]


@attrs.define
class OrderedKeys:
    """Checks a timestamp-ordered sequence of keys for repeats and order breaks."""

    order: Literal["ASC", "DESC"]
    duplicates: int = 0
    disorders: int = 0
    _ts: int | None = None
    _keys: set[tuple[str, str]] = attrs.field(factory=set)

    def add(self, ts: int, key: tuple[str, str]) -> None:
        if self._ts is None or ts != self._ts:
            if self._ts is not None and (ts < self._ts) == (self.order == "ASC"):
                self.disorders += 1
            self._ts = ts
            self._keys.clear()
        if key in self._keys:
            self.duplicates += 1
        else:
            self._keys.add(key)


@attrs.define
class StatementCheck:
    """Reconciles one instrument's statement walked oldest first (`order="ASC"`), with the
    checks of `weavr_async.reconcile` (`StatementChecks`).

    Feed it every page (`add_page`) with the page's count and start/end balances; `problems()`
    then lists what failed, as short phrases: the balance equation (start + adjustments ==
    end), the balance-after chain, duplicate transactions, and the count against the snapshot
    total.
    """

    checks: StatementChecks = attrs.field(factory=StatementChecks)
    expected: int | None = None

    @property
    def entries(self) -> int:
        return self.checks.entries

    @property
    def pages(self) -> int:
        return self.checks.pages

    def add_page(
        self,
        items: Sequence[StatementEntry],
        *,
        count: int,
        start_balance: int | None,
        end_balance: int | None,
    ) -> None:
        if self.checks.pages == 0:
            self.expected = count
        self.checks.add_page(items, _money(start_balance), _money(end_balance))

    def problems(self) -> list[str]:
        checks = self.checks
        checks.total = self.expected if self.expected is not None else 0
        outcomes = checks.outcomes()
        found: list[str] = []
        if outcomes["balance_equation"].failed:
            if checks.start is None or checks.end is None:
                found.append("no start/end balance")
            else:
                delta = checks.end - checks.start - checks.adjustments
                found.append(f"start+adjustments≠end (off by {delta:+,})")
        if checks.breaks.count:
            first = checks.breaks.items[0]["entry"]
            found.append(f"chain broken ×{checks.breaks.count} (first at #{first})")
        if checks.missing_balances and outcomes["balance_chain"].failed:
            found.append(f"{checks.missing_balances:,} entries without balance")
        if checks.duplicates.count:
            found.append(f"{checks.duplicates.count} duplicate(s)")
        if outcomes["count"].failed:
            found.append(f"count {checks.entries:,}≠{checks.total:,}")
        return found


def _money(amount: int | None) -> CurrencyAmount | None:
    # The checks read amounts only: the demo's figures carry no currency.
    return None if amount is None else CurrencyAmount("", amount)


@attrs.define
class TransferCheck:
    """Reconciles a walk of transfers (newest first): no duplicates, order, count."""

    entries: int = 0
    pages: int = 0
    expected: int | None = None
    _keys: OrderedKeys = attrs.field(factory=lambda: OrderedKeys("DESC"))

    def add_page(self, items: Sequence[Transfer], *, count: int) -> None:
        if self.pages == 0:
            self.expected = count
        self.pages += 1
        for transfer in items:
            self.entries += 1
            self._keys.add(transfer.creation_timestamp, ("transfer", transfer.id))

    def problems(self) -> list[str]:
        found: list[str] = []
        if self._keys.duplicates:
            found.append(f"{self._keys.duplicates} duplicate(s)")
        if self._keys.disorders:
            found.append(f"out of order ×{self._keys.disorders}")
        expected = self.expected if self.expected is not None else 0
        if self.entries != expected:
            found.append(f"count {self.entries:,}≠{expected:,}")
        return found
