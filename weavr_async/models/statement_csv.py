"""The flat CSV layout of a statement entry, shared by the CLI's export and the simulator's
`Accept: text/csv` statements: nested fields as dotted columns, `additionalFields` as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["STATEMENT_CSV_COLUMNS", "flatten_entry"]

STATEMENT_CSV_COLUMNS: tuple[str, ...] = (
    "transactionId.type",
    "transactionId.id",
    "entryState",
    "processedTimestamp",
    "transactionAmount.currency",
    "transactionAmount.amount",
    "availableBalanceAdjustment.amount",
    "actualBalanceAdjustment.amount",
    "balanceAfter.amount",
    "availableBalanceAfter.amount",
    "actualBalanceAfter.amount",
    "transactionFee.currency",
    "transactionFee.amount",
    "cardholderFee.amount",
    "originalAmount.currency",
    "originalAmount.amount",
    "forexRate.value",
    "forexRate.scale",
    "sourceAmount.currency",
    "sourceAmount.amount",
    "additionalFields",
)
_PATHS: tuple[tuple[str, ...], ...] = tuple(tuple(c.split(".")) for c in STATEMENT_CSV_COLUMNS)


def flatten_entry(entry: Mapping[str, Any]) -> list[str]:
    """An entry's CSV row (the API's JSON object in, one cell per column out)."""
    row: list[str] = []
    for path in _PATHS:
        value: Any = entry
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, Mapping | list):
            value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if value else ""
        row.append("" if value is None else str(value))
    return row
