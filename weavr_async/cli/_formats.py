"""Statement entries written out as JSON lines (the API's own JSON) or flattened CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any, BinaryIO, Literal, Protocol

import orjson

from ..models.statement_csv import STATEMENT_CSV_COLUMNS, flatten_entry

__all__ = ["CSV_COLUMNS", "CsvWriter", "EntryWriter", "JsonLinesWriter", "open_writer"]

Format = Literal["jsonl", "csv"]

CSV_COLUMNS = STATEMENT_CSV_COLUMNS


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


class CsvWriter:
    """Flattened rows under a header of `CSV_COLUMNS` (the header is left out when appending)."""

    def __init__(self, sink: BinaryIO, *, header: bool) -> None:
        self._sink = sink
        self._text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text, lineterminator="\n")
        if header:
            self._csv.writerow(CSV_COLUMNS)

    def write(self, entry: Mapping[str, Any]) -> None:
        self._csv.writerow(flatten_entry(entry))

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
