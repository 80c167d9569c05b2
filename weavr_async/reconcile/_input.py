"""The job's input: which instruments of which identities to reconcile (the API cannot list an
identity's instruments), read from CSV or JSON lines and checked whole before anything is sent."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson

from ..errors import InvalidRequest
from ..models import Identity, InstrumentRef
from ..resources._validators import check_identifier

__all__ = ["COLUMNS", "InputError", "Target", "parse_targets", "read_targets"]

COLUMNS = ("identity_type", "identity_id", "instrument_type", "instrument_id")
IDENTITY_TYPES = ("CORPORATE", "CONSUMER")
INSTRUMENT_TYPES = ("managed_accounts", "managed_cards")
MAX_PROBLEMS = 50
"""Problems listed in an `InputError` (all are counted)."""

InputFormat = Literal["csv", "jsonl"]


class InputError(ValueError):
    """The input file is not a valid list of instruments; `problems` says where and why
    (`path:line: ...`), at most `MAX_PROBLEMS` of them, `count` how many there were."""

    def __init__(self, problems: list[str], count: int | None = None) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        self.count = len(problems) if count is None else count
        more = self.count - len(self.problems)
        tail = f"\n... and {more} more" if more > 0 else ""
        super().__init__("\n".join(self.problems) + tail)


@attrs.frozen
class Target:
    """One instrument to reconcile and the identity it belongs to."""

    identity: Identity
    instrument: InstrumentRef

    @property
    def key(self) -> str:
        """`managed_accounts:ID` or `managed_cards:ID`: unique in a job."""
        return f"{self.instrument.type}:{self.instrument.id}"

    @property
    def owner(self) -> str:
        """`CORPORATE:ID` or `CONSUMER:ID`."""
        return f"{self.identity.type}:{self.identity.id}"

    @classmethod
    def of(
        cls, identity_type: str, identity_id: str, instrument_type: str, instrument_id: str
    ) -> Target:
        """A target from the four fields of an input row (validated)."""
        return _target(
            {
                "identity_type": identity_type,
                "identity_id": identity_id,
                "instrument_type": instrument_type,
                "instrument_id": instrument_id,
            }
        )


def read_targets(path: str | Path, fmt: InputFormat | None = None) -> list[Target]:
    """Read and validate a whole input file: CSV with a header naming `COLUMNS` (in any order;
    other columns are ignored), or JSON lines of objects with those keys. The format comes
    from `fmt`, else the extension (.csv; .jsonl, .ndjson, .json), else the first character.
    Raises `InputError` listing every bad row by line, or OSError."""
    source = Path(path)
    text = source.read_bytes().decode("utf-8-sig", errors="replace")
    return parse_targets(text, fmt or _format_of(source, text), name=str(source))


def parse_targets(text: str, fmt: InputFormat, *, name: str = "<input>") -> list[Target]:
    """`read_targets` on text already read."""
    rows = _csv_rows(text) if fmt == "csv" else _jsonl_rows(text)
    problems: list[str] = []
    targets: list[Target] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, str):
            problems.append(f"{name}:{line}: {row}")
            continue
        try:
            target = _target(row)
        except InvalidRequest as exc:
            problems.append(f"{name}:{line}: {exc.field}: {exc.message}")
            continue
        first = seen.setdefault(target.key, line)
        if first != line:
            problems.append(f"{name}:{line}: {target.key} is already on line {first}")
            continue
        targets.append(target)
    if not targets and not problems:
        problems.append(f"{name}: no instruments")
    if problems:
        raise InputError(problems)
    return targets


def _format_of(path: Path, text: str) -> InputFormat:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


Row = Mapping[str, Any]


def _csv_rows(text: str) -> Iterator[tuple[int, Row | str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                names = ", ".join(COLUMNS)
                yield line, f"the header must name {names} (missing {', '.join(missing)})"
                return
            continue
        if len(record) != len(header):
            yield line, f"expected {len(header)} fields, got {len(record)}"
            continue
        yield line, dict(zip(header, (cell.strip() for cell in record), strict=True))
    if header is None:
        yield 1, "empty file: expected a header naming " + ", ".join(COLUMNS)


def _jsonl_rows(text: str) -> Iterable[tuple[int, Row | str]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield line, f"not JSON: {exc}"
            continue
        if not isinstance(value, dict):
            yield line, f"expected a JSON object, got {type(value).__name__}"
            continue
        yield line, value


def _target(row: Row) -> Target:
    for column in COLUMNS:
        if row.get(column) is None or row.get(column) == "":
            raise InvalidRequest(column, "is missing")
    identity_type = _text(row["identity_type"], "identity_type").upper()
    if identity_type not in IDENTITY_TYPES:
        raise InvalidRequest(
            "identity_type", f"must be CORPORATE or CONSUMER, got {identity_type!r}"
        )
    instrument_type = _text(row["instrument_type"], "instrument_type").lower()
    if instrument_type not in INSTRUMENT_TYPES:
        raise InvalidRequest(
            "instrument_type",
            f"must be managed_accounts or managed_cards, got {instrument_type!r}",
        )
    identity_id = check_identifier(_text(row["identity_id"], "identity_id"), "identity_id")
    instrument_id = check_identifier(_text(row["instrument_id"], "instrument_id"), "instrument_id")
    identity = (
        Identity.corporate(identity_id)
        if identity_type == "CORPORATE"
        else Identity.consumer(identity_id)
    )
    instrument = (
        InstrumentRef.managed_account(instrument_id)
        if instrument_type == "managed_accounts"
        else InstrumentRef.managed_card(instrument_id)
    )
    return Target(identity, instrument)


def _text(value: object, field: str) -> str:
    """A field as text: JSON numbers are accepted for ids (non-negative integers only)."""
    if isinstance(value, bool | float):
        raise InvalidRequest(field, f"expected a string, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidRequest(field, f"must be digits only, got {value}")
        return str(value)
    if not isinstance(value, str):
        raise InvalidRequest(field, f"expected a string, got {type(value).__name__}")
    return value.strip()
