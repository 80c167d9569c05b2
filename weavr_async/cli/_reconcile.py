"""Reconciliation of a statement walk, page by page, in constant memory.

Duplicates are found without remembering the whole walk: the walk is ordered by timestamp, so a
repeated entry can only reappear among the entries of its own timestamp. The checker keeps the
keys of the current timestamp only, and separately flags any step backwards in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs

from ..models import StatementEntry, Transfer

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
    """Reconciles one instrument's statement walked oldest first (`order="ASC"`).

    Feed it every page (`add_page`) with the page's start/end balances; `problems()` then lists
    what failed: the balance equation (start + adjustments == end), the balance-after chain,
    duplicate transaction ids, order, and the count against the snapshot total.
    """

    entries: int = 0
    pages: int = 0
    start: int | None = None
    end: int | None = None
    adjustments: int = 0
    expected: int | None = None
    chain_breaks: int = 0
    first_break: int | None = None
    missing_balances: int = 0
    _running: int | None = None
    _keys: OrderedKeys = attrs.field(factory=lambda: OrderedKeys("ASC"))

    def add_page(
        self,
        items: Sequence[StatementEntry],
        *,
        count: int,
        start_balance: int | None,
        end_balance: int | None,
    ) -> None:
        if self.pages == 0:
            self.expected = count
            self.start = start_balance
            self._running = start_balance
        if end_balance is not None:
            self.end = end_balance
        self.pages += 1
        keys = self._keys
        running = self._running
        for entry in items:
            self.entries += 1
            keys.add(
                entry.processed_timestamp, (entry.transaction_id.type, entry.transaction_id.id)
            )
            adjustment = entry.actual_balance_adjustment
            amount = adjustment.amount if adjustment is not None else 0
            self.adjustments += amount
            after = entry.actual_balance_after or entry.balance_after
            if after is None:
                self.missing_balances += 1
                running = None
                continue
            if running is not None and after.amount != running + amount:
                self.chain_breaks += 1
                if self.first_break is None:
                    self.first_break = self.entries
            running = after.amount
        self._running = running

    def problems(self) -> list[str]:
        found: list[str] = []
        if self.start is not None and self.end is not None:
            if self.start + self.adjustments != self.end:
                delta = self.end - self.start - self.adjustments
                found.append(f"start+adjustments≠end (off by {delta:+,})")
        elif self.entries:
            found.append("no start/end balance")
        if self.chain_breaks:
            found.append(f"chain broken ×{self.chain_breaks} (first at #{self.first_break})")
        if self.missing_balances:
            found.append(f"{self.missing_balances:,} entries without balance")
        if self._keys.duplicates:
            found.append(f"{self._keys.duplicates} duplicate(s)")
        if self._keys.disorders:
            found.append(f"out of order ×{self._keys.disorders}")
        expected = self.expected if self.expected is not None else 0
        if self.entries != expected:
            found.append(f"count {self.entries:,}≠{expected:,}")
        return found


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
