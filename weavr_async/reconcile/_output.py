"""Results written out: JSON lines (everything, unmatched items included) or CSV (one flat row
per instrument), and tallied per check. Files are written beside their target and renamed
into place, so a reader never sees half of one."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import orjson

from ._checks import CHECKS
from ._result import InstrumentResult

__all__ = [
    "CSV_COLUMNS",
    "OutputFormat",
    "format_of",
    "render_csv",
    "render_jsonl",
    "tally",
    "write_results",
]

OutputFormat = Literal["jsonl", "csv"]
CSV_COLUMNS = (
    "identity_type",
    "identity_id",
    "instrument_type",
    "instrument_id",
    "ok",
    "failed_checks",
    "currency",
    "entries",
    "transfers",
    "start_balance",
    "end_balance",
    *CHECKS,
    "error",
)


def format_of(path: str | Path) -> OutputFormat:
    """csv for a .csv path, else JSON lines."""
    return "csv" if str(path).lower().endswith(".csv") else "jsonl"


def render_jsonl(results: Iterable[InstrumentResult]) -> bytes:
    return b"".join(orjson.dumps(r.to_json(), option=orjson.OPT_APPEND_NEWLINE) for r in results)


def render_csv(results: Iterable[InstrumentResult]) -> bytes:
    """One row per instrument; each check's column says `ok`, `skipped` or `failed: DETAIL`."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in results:
        target = result.target
        cells: list[object] = [
            target.identity.type,
            target.identity.id,
            target.instrument.type,
            target.instrument.id,
            "true" if result.ok else "false",
            " ".join(result.failed_checks),
            result.currency or "",
            result.entries,
            result.transfers,
            "" if result.start_balance is None else result.start_balance,
            "" if result.end_balance is None else result.end_balance,
        ]
        for name in CHECKS:
            outcome = result.checks.get(name)
            if outcome is None:
                cells.append("")
            elif outcome.failed:
                cells.append(f"failed: {outcome.detail}")
            else:
                cells.append(outcome.status)
        cells.append(result.error or "")
        writer.writerow(cells)
    return text.getvalue().encode()


def write_results(
    path: str | Path, results: Sequence[InstrumentResult], fmt: OutputFormat | None = None
) -> None:
    """Write `results` to `path` (format from `fmt`, else its extension), atomically."""
    target = Path(path)
    body = render_csv(results) if (fmt or format_of(target)) == "csv" else render_jsonl(results)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def tally(results: Iterable[InstrumentResult]) -> dict[str, dict[str, int]]:
    """Per check, how many instruments it was ok, failed or skipped for."""
    counts = {name: {"ok": 0, "failed": 0, "skipped": 0} for name in CHECKS}
    for result in results:
        for name, outcome in result.checks.items():
            if name in counts:
                counts[name][outcome.status] += 1
    return counts
