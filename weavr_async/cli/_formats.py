"""Statement entries written out as JSON lines (the API's own JSON) or flattened CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any, BinaryIO, Literal, Protocol

import orjson

__all__ = ["CSV_COLUMNS", "CsvWriter", "EntryWriter", "JsonLinesWriter", "open_writer"]

Format = Literal["jsonl", "csv"]

# Flattened column name -> path into the entry's JSON object.
CSV_COLUMNS: tuple[str, ...] = (
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
_PATHS: tuple[tuple[str, ...], ...] = tuple(tuple(name.split(".")) for name in CSV_COLUMNS)


class EntryWriter(Protocol):
    """Writes entries to a byte stream; `flush()` pushes buffered rows into it."""

    def write(self, entry: Mapping[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def release(self) -> None:
        """Flush, and leave the byte stream open for its owner to close."""


class JsonLinesWriter:
    """One JSON object per line, exactly the object the API sent."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink

    def write(self, entry: Mapping[str, Any]) -> None:
        self._sink.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))

    def flush(self) -> None:
        self._sink.flush()

    def release(self) -> None:
        self.flush()


def flatten(entry: Mapping[str, Any]) -> list[object]:
    """The CSV row of an entry: nested fields by path, `additionalFields` as compact JSON."""
    row: list[object] = []
    for path in _PATHS:
        value: Any = entry
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, Mapping | list):
            value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if value else ""
        row.append("" if value is None else value)
    return row


class CsvWriter:
    """Flattened rows under a header of `CSV_COLUMNS` (the header is left out when appending)."""

    def __init__(self, sink: BinaryIO, *, header: bool) -> None:
        self._sink = sink
        self._text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text, lineterminator="\n")
        if header:
            self._csv.writerow(CSV_COLUMNS)

    def write(self, entry: Mapping[str, Any]) -> None:
        self._csv.writerow(flatten(entry))

    def flush(self) -> None:
        self._text.flush()
        self._sink.flush()

    def release(self) -> None:
        # A TextIOWrapper closes its buffer when collected: detach it so the sink stays open.
        self.flush()
        self._text.detach()


def open_writer(fmt: Format, sink: BinaryIO, *, appending: bool) -> EntryWriter:
    if fmt == "csv":
        return CsvWriter(sink, header=not appending)
    return JsonLinesWriter(sink)
