"""Small JSON-body checkers that collect field problems and render the contract's 400 bodies."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

__all__ = [
    "DIGITS",
    "TAG",
    "Problems",
    "check_amount",
    "check_bool",
    "check_enum",
    "check_instrument",
    "check_int",
    "check_object",
    "check_string",
    "check_string_list",
]

DIGITS = re.compile(r"^[0-9]+$")
# A tag (on transfers, users, and the GET /transfers filter): at most 50 of these characters.
TAG = re.compile(r"^[a-zA-Z0-9_-]+$")
INSTRUMENT_TYPES = ("managed_accounts", "managed_cards")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Error codes valid in BackofficeBadRequestError but not in BadRequestError's SyntaxError.
_SYNTAX_ALIASES = {"INVALID_TYPE_OR_VALUE": "REGEX", "INVALID_REQUEST": "REQUIRED"}


class Problems:
    """Field problems found while validating one request; renders either 400 body shape."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, field: str, error: str, message: str) -> None:
        """Record that ``field`` failed check ``error`` (a ValidationError enum value)."""
        self.items.append((field, error, message[:255]))

    def body(self, syntax: bool) -> dict[str, Any]:
        """The 400 body: BadRequestError (``syntax``) or BackofficeBadRequestError."""
        message = self.items[0][2] if self.items else "Invalid request"
        if syntax:
            fields = [
                {"fieldName": f, "error": _SYNTAX_ALIASES.get(e, e), "params": [m]}
                for f, e, m in self.items
            ]
            return {"message": message, "syntaxErrors": {"invalidFields": fields}}
        errors = [{"fieldName": f, "error": e, "message": m} for f, e, m in self.items]
        return {"message": message, "validationErrors": errors}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_object(
    value: Any, problems: Problems, path: str, *, required: bool = True
) -> dict[str, Any] | None:
    """``value`` if it is a JSON object; records REQUIRED / INVALID_TYPE_OR_VALUE otherwise."""
    if value is None:
        if required:
            problems.add(path or "body", "REQUIRED", f"{path or 'body'} is required")
        return None
    if not isinstance(value, dict):
        problems.add(path or "body", "INVALID_TYPE_OR_VALUE", f"{path or 'body'} must be an object")
        return None
    return value


def check_string(
    obj: dict[str, Any],
    key: str,
    problems: Problems,
    path: str = "",
    *,
    required: bool = False,
    pattern: re.Pattern[str] | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
) -> str | None:
    """Check an optional/required string member against length and pattern limits."""
    field = _join(path, key)
    value = obj.get(key)
    if value is None:
        if required:
            problems.add(field, "REQUIRED", f"{field} is required")
        return None
    if not isinstance(value, str):
        problems.add(field, "INVALID_TYPE_OR_VALUE", f"{field} must be a string")
        return None
    if min_len is not None and len(value) < min_len:
        problems.add(field, "AT_LEAST", f"{field} must have at least {min_len} characters")
        return None
    if max_len is not None and len(value) > max_len:
        problems.add(field, "AT_MOST", f"{field} must have at most {max_len} characters")
        return None
    if pattern is not None and not pattern.match(value):
        problems.add(field, "REGEX", f"{field} must match {pattern.pattern}")
        return None
    return value


def check_int(
    obj: dict[str, Any],
    key: str,
    problems: Problems,
    path: str = "",
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """Check an integer member (booleans rejected) against an inclusive range."""
    field = _join(path, key)
    value = obj.get(key)
    if value is None:
        if required:
            problems.add(field, "REQUIRED", f"{field} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(field, "INVALID_TYPE_OR_VALUE", f"{field} must be an integer")
        return None
    if minimum is not None and value < minimum:
        problems.add(field, "AT_LEAST", f"{field} must be at least {minimum}")
        return None
    if maximum is not None and value > maximum:
        problems.add(field, "AT_MOST", f"{field} must be at most {maximum}")
        return None
    return value


def check_bool(
    obj: dict[str, Any], key: str, problems: Problems, path: str = "", *, required: bool = False
) -> bool | None:
    """Check a boolean member."""
    field = _join(path, key)
    value = obj.get(key)
    if value is None:
        if required:
            problems.add(field, "REQUIRED", f"{field} is required")
        return None
    if not isinstance(value, bool):
        problems.add(field, "INVALID_TYPE_OR_VALUE", f"{field} must be a boolean")
        return None
    return value


def check_enum(
    obj: dict[str, Any],
    key: str,
    problems: Problems,
    values: Collection[str],
    path: str = "",
    *,
    required: bool = False,
) -> str | None:
    """Check a string member is one of ``values``."""
    field = _join(path, key)
    value = obj.get(key)
    if value is None:
        if required:
            problems.add(field, "REQUIRED", f"{field} is required")
        return None
    if not isinstance(value, str) or value not in values:
        problems.add(field, "IN", f"{field} must be one of {', '.join(sorted(values))}")
        return None
    return value


def check_string_list(
    obj: dict[str, Any],
    key: str,
    problems: Problems,
    path: str = "",
    *,
    max_items: int,
    pattern: re.Pattern[str] | None = None,
) -> list[str] | None:
    """Check an optional array of strings (max items, optional per-item pattern)."""
    field = _join(path, key)
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(field, "INVALID_TYPE_OR_VALUE", f"{field} must be an array of strings")
        return None
    if len(value) > max_items:
        problems.add(field, "AT_MOST", f"{field} must have at most {max_items} items")
        return None
    if pattern is not None:
        for item in value:
            if not pattern.match(item):
                problems.add(field, "REGEX", f"{field} items must match {pattern.pattern}")
                return None
    return list(value)


def check_instrument(
    obj: dict[str, Any], key: str, problems: Problems, path: str = "", *, required: bool = True
) -> tuple[str, str] | None:
    """Check an InstrumentId member; returns (type, id)."""
    field = _join(path, key)
    inner = check_object(obj.get(key), problems, field, required=required)
    if inner is None:
        return None
    before = len(problems.items)
    kind = check_enum(inner, "type", problems, INSTRUMENT_TYPES, field, required=True)
    ident = check_string(inner, "id", problems, field, required=True, pattern=DIGITS)
    if len(problems.items) != before or kind is None or ident is None:
        return None
    return kind, ident


def check_amount(
    obj: dict[str, Any], key: str, problems: Problems, path: str = "", *, required: bool = True
) -> tuple[str, int] | None:
    """Check a CurrencyAmount member; returns (currency, amount)."""
    field = _join(path, key)
    inner = check_object(obj.get(key), problems, field, required=required)
    if inner is None:
        return None
    before = len(problems.items)
    currency = check_string(
        inner, "currency", problems, field, required=True, pattern=_CURRENCY, max_len=3
    )
    amount = check_int(inner, "amount", problems, field, required=True)
    if len(problems.items) != before or currency is None or amount is None:
        return None
    return currency, amount
