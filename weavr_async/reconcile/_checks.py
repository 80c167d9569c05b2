"""The checks of one instrument's books, their verdicts, and the statement checks.

`StatementChecks` takes a statement walked oldest first, page by page, in constant memory:
the balance chain, the balance equation, unique transactions and the count. It keeps no
entry, only running figures, the keys of the entries at the current timestamp (a walk is
ordered by time, so a replayed entry can only sit among those) and, for the cross-ledger
match (`_crossledger`), the transaction id and amount of each COMPLETED TRANSFER entry. It
serialises to a JSON-able dict and back, so a walk stopped at a checkpoint resumes with its
checks exactly where they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from ..models import CurrencyAmount, StatementEntry

__all__ = [
    "CHECKS",
    "MAX_LISTED",
    "CheckOutcome",
    "StatementChecks",
]

CHECKS = (
    "balance_chain",
    "balance_equation",
    "unique_transactions",
    "count",
    "transfers_on_statement",
    "statement_transfers_known",
)
"""Every check, in the order results list them."""
STATEMENT_CHECKS = CHECKS[:4]
CROSS_LEDGER_CHECKS = CHECKS[4:]
MAX_LISTED = 20
"""Offending items listed per check (all are counted)."""

Status = Literal["ok", "failed", "skipped"]
Item = dict[str, Any]


def _items(values: Iterable[Item]) -> tuple[Item, ...]:
    return tuple(values)


@attrs.frozen
class CheckOutcome:
    """One check's verdict: `failures` offending items (the first `MAX_LISTED` in `items`)
    and a one-line `detail`. `skipped` when the books give nothing to check it against."""

    status: Status
    failures: int = 0
    detail: str = ""
    items: tuple[Item, ...] = attrs.field(default=(), converter=_items)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "failures": self.failures,
            "detail": self.detail,
            "items": list(self.items),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckOutcome:
        return cls(data["status"], data["failures"], data["detail"], data["items"])


def skipped(detail: str) -> CheckOutcome:
    return CheckOutcome("skipped", 0, detail)


@attrs.define
class Listed:
    """A count of offending items and the first `MAX_LISTED` of them."""

    count: int = 0
    items: list[Item] = attrs.field(factory=list)

    def add(self, item: Item) -> None:
        self.count += 1
        if len(self.items) < MAX_LISTED:
            self.items.append(item)

    def outcome(self, detail: str, ok_detail: str) -> CheckOutcome:
        if not self.count:
            return CheckOutcome("ok", 0, ok_detail)
        return CheckOutcome("failed", self.count, detail, self.items)

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "items": self.items}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Listed:
        return cls(data["count"], list(data["items"]))


def transaction(entry: StatementEntry) -> str:
    return f"{entry.transaction_id.type}:{entry.transaction_id.id}"


@attrs.define
class StatementChecks:
    """The statement checks of one instrument, walked oldest first (see the module)."""

    entries: int = 0
    pages: int = 0
    started: bool = False
    currency: str | None = None
    start: int | None = None
    end: int | None = None
    adjustments: int = 0
    total: int | None = None
    running: int | None = None
    missing_balances: int = 0
    breaks: Listed = attrs.field(factory=Listed)
    duplicates: Listed = attrs.field(factory=Listed)
    ts: int | None = None
    keys_at_ts: set[tuple[str, str, str]] = attrs.field(factory=set)
    transfers: dict[str, int] = attrs.field(factory=dict)
    """COMPLETED TRANSFER entries: transaction id -> signed transaction amount."""

    def add_page(
        self,
        items: Sequence[StatementEntry],
        start_balance: CurrencyAmount | None,
        end_balance: CurrencyAmount | None,
    ) -> None:
        """One page of the walk, in order. The first page's start balance anchors the chain
        (a resumed walk keeps the one it had); the last page's end balance closes it."""
        if not self.started:
            self.started = True
            if start_balance is not None:
                self.start = self.running = start_balance.amount
                self.currency = start_balance.currency
        if end_balance is not None:
            self.end = end_balance.amount
            self.currency = self.currency or end_balance.currency
        self.pages += 1
        running = self.running
        keys = self.keys_at_ts
        transfers = self.transfers
        at = self.ts
        for entry in items:
            self.entries += 1
            adjustment = entry.actual_balance_adjustment
            amount = 0 if adjustment is None else adjustment.amount
            self.adjustments += amount
            after = entry.actual_balance_after or entry.balance_after
            if after is None:
                self.missing_balances += 1
                running = None
            else:
                if running is not None and after.amount != running + amount:
                    self.breaks.add(
                        {
                            "entry": self.entries,
                            "transaction": transaction(entry),
                            "expected": running + amount,
                            "balance_after": after.amount,
                        }
                    )
                running = after.amount
            tid = entry.transaction_id
            ts = entry.processed_timestamp
            if ts != at:
                at = ts
                keys.clear()
            key = (tid.type, tid.id, entry.entry_state)
            repeated = key in keys
            keys.add(key)
            if tid.type == "TRANSFER" and entry.entry_state == "COMPLETED":
                # Transfers are matched across the whole walk, so a transfer posted twice is
                # caught at any distance, not only within one timestamp.
                if tid.id in transfers:
                    repeated = True
                else:
                    transfers[tid.id] = entry.transaction_amount.amount
            if repeated:
                self.duplicates.add(
                    {"entry": self.entries, "transaction": transaction(entry), "state": key[2]}
                )
        self.ts = at
        self.running = running

    def finish(self, total: int | None) -> None:
        """The walk is over; `total` is the number of entries the API counted for it."""
        self.total = self.entries if total is None else total
        self.keys_at_ts.clear()

    def outcomes(self) -> dict[str, CheckOutcome]:
        return {
            "balance_chain": self._chain(),
            "balance_equation": self._equation(),
            "unique_transactions": self.duplicates.outcome(
                f"{self.duplicates.count:,} entries repeat a transaction already on the statement",
                f"{self.entries:,} entries, no transaction twice",
            ),
            "count": self._count(),
        }

    def _no_balances(self) -> bool:
        return self.start is None and self.end is None and self.missing_balances == self.entries

    def _chain(self) -> CheckOutcome:
        if not self.entries:
            return CheckOutcome("ok", 0, "no entries")
        if self._no_balances():
            return skipped("the statement carries no balances (a DEBIT_MODE card?)")
        failures = self.breaks.count + self.missing_balances
        if not failures:
            return CheckOutcome("ok", 0, f"{self.entries:,} entries follow from their balance")
        parts = []
        if self.breaks.count:
            parts.append(
                f"{self.breaks.count:,} entries do not follow from the balance before them"
            )
        if self.missing_balances:
            parts.append(f"{self.missing_balances:,} entries carry no balance")
        return CheckOutcome("failed", failures, "; ".join(parts), self.breaks.items)

    def _equation(self) -> CheckOutcome:
        if self._no_balances():
            return skipped("the statement carries no balances (a DEBIT_MODE card?)")
        if self.start is None or self.end is None:
            return CheckOutcome("failed", 1, "the statement gave no start or end balance")
        reached = self.start + self.adjustments
        if reached == self.end:
            return CheckOutcome("ok", 0, f"{self.start:,} + {self.adjustments:,} = {self.end:,}")
        item = {"start": self.start, "adjustments": self.adjustments, "end": self.end}
        return CheckOutcome(
            "failed",
            1,
            f"{self.start:,} + {self.adjustments:,} = {reached:,}, not the end balance "
            f"{self.end:,} (off by {self.end - reached:+,})",
            [item],
        )

    def _count(self) -> CheckOutcome:
        total = self.entries if self.total is None else self.total
        if self.entries == total:
            return CheckOutcome("ok", 0, f"{self.entries:,} entries, as counted")
        return CheckOutcome(
            "failed",
            abs(total - self.entries),
            f"walked {self.entries:,} entries, the API counted {total:,}",
            [{"walked": self.entries, "counted": total}],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "pages": self.pages,
            "started": self.started,
            "currency": self.currency,
            "start": self.start,
            "end": self.end,
            "adjustments": self.adjustments,
            "total": self.total,
            "running": self.running,
            "missing_balances": self.missing_balances,
            "breaks": self.breaks.to_json(),
            "duplicates": self.duplicates.to_json(),
            "ts": self.ts,
            "keys_at_ts": sorted(self.keys_at_ts),
            "transfers": self.transfers,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatementChecks:
        return cls(
            entries=data["entries"],
            pages=data["pages"],
            started=data["started"],
            currency=data["currency"],
            start=data["start"],
            end=data["end"],
            adjustments=data["adjustments"],
            total=data["total"],
            running=data["running"],
            missing_balances=data["missing_balances"],
            breaks=Listed.from_json(data["breaks"]),
            duplicates=Listed.from_json(data["duplicates"]),
            ts=data["ts"],
            keys_at_ts={(k[0], k[1], k[2]) for k in data["keys_at_ts"]},
            transfers=dict(data["transfers"]),
        )


def all_skipped(names: Iterable[str], detail: str) -> dict[str, CheckOutcome]:
    return {name: skipped(detail) for name in names}
