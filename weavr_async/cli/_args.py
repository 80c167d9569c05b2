"""Argument types shared by the subcommands: identities, timestamps, counts."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from ..models import Identity

__all__ = ["identity", "non_negative_float", "non_negative_int", "positive_int", "timestamp"]

_DIGITS = re.compile(r"[0-9]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def identity(text: str) -> Identity:
    """`corporate:ID` or `consumer:ID`."""
    kind, _, ident = text.partition(":")
    kind = kind.strip().lower()
    if kind not in ("corporate", "consumer") or not _DIGITS.fullmatch(ident):
        raise argparse.ArgumentTypeError(
            f"expected corporate:ID or consumer:ID (ID digits only), got {text!r}"
        )
    return Identity.corporate(ident) if kind == "corporate" else Identity.consumer(ident)


def timestamp(text: str) -> int:
    """Epoch milliseconds, or an ISO 8601 date/time (UTC unless it carries an offset)."""
    if _DIGITS.fullmatch(text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ISO 8601 (e.g. 2024-01-31T12:00:00Z) or epoch milliseconds, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def add_time_window(parser: argparse.ArgumentParser) -> None:
    """`--from` and `--to`, the time window of a statement walk (as `from_ts`, `to_ts`)."""
    parser.add_argument(
        "--from",
        dest="from_ts",
        type=timestamp,
        metavar="TIME",
        help="oldest entry (inclusive): ISO 8601 or epoch ms",
    )
    parser.add_argument(
        "--to",
        dest="to_ts",
        type=timestamp,
        metavar="TIME",
        help="newest entry bound (exclusive): ISO 8601 or epoch ms",
    )


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _int(text: str) -> int:
    try:
        return int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
