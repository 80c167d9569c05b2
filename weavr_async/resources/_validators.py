"""Client-side checks of the caller's arguments, against the contract's own bounds and patterns.

Each check takes the value and the name of the argument it came from, raises `InvalidRequest`
naming that argument when the value does not fit, and otherwise returns the value as it goes
on the wire; nothing is sent before every argument of a call has passed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from .._operation import epoch_millis
from ..errors import InvalidRequest
from ..models import CalendarDate, CurrencyAmount, InstrumentRef

__all__ = [
    "check_brand",
    "check_calendar_date",
    "check_choice",
    "check_choices",
    "check_country",
    "check_currency",
    "check_description",
    "check_email",
    "check_flag",
    "check_identifier",
    "check_instrument",
    "check_int",
    "check_locale",
    "check_money",
    "check_order",
    "check_phone",
    "check_seconds",
    "check_tag",
    "check_text",
    "check_time_range",
    "check_timestamp",
]

_DIGITS = re.compile(r"[0-9]+")
_TAG = re.compile(r"[a-zA-Z0-9_-]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DESCRIPTION = re.compile(r"""[a-zA-Z0-9/\-?:().$_,'+\s#=!"%&*<>;{@\r\n]*""")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LOCALE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")
_BRAND = re.compile(r"[a-zA-Z0-9]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_CODE = re.compile(r"\+[0-9]{1,3}")
_PHONE_NUMBER = re.compile(r"[0-9]{1,12}")
_MAX_ID_LENGTH = 40
_MAX_INT64 = 2**63 - 1


def check_identifier(value: object, field: str) -> str:
    """An API id: a string of at most 40 digits (which also keeps path traversal out of URLs).

    Raises `InvalidRequest` for anything else.
    """
    if not isinstance(value, str):
        raise InvalidRequest(field, f"expected a string of digits, got {type(value).__name__}")
    if not _DIGITS.fullmatch(value) or len(value) > _MAX_ID_LENGTH:
        raise InvalidRequest(
            field, f"must be digits only (at most {_MAX_ID_LENGTH}), got {value!r}"
        )
    return value


def check_text(
    value: object,
    field: str,
    *,
    pattern: re.Pattern[str] | None = None,
    min_length: int = 1,
    max_length: int | None = None,
) -> str:
    """A string within `min_length` and `max_length` characters, matching `pattern` if given.

    Raises `InvalidRequest` for a non-string, a wrong length or a mismatch.
    """
    if not isinstance(value, str):
        raise InvalidRequest(field, f"expected a string, got {type(value).__name__}")
    if len(value) < min_length:
        raise InvalidRequest(field, f"must have at least {min_length} character(s)")
    if max_length is not None and len(value) > max_length:
        raise InvalidRequest(field, f"must have at most {max_length} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidRequest(field, f"does not match {pattern.pattern!r}")
    return value


def check_tag(value: object, field: str = "tag") -> str:
    """A tag: 1 to 50 letters, digits, `_` or `-`. Raises `InvalidRequest` otherwise."""
    return check_text(value, field, pattern=_TAG, max_length=50)


def check_description(value: object, field: str = "description") -> str:
    """A description: at most 255 letters, digits, whitespace or the punctuation the contract
    allows. Raises `InvalidRequest` otherwise."""
    return check_text(value, field, pattern=_DESCRIPTION, min_length=0, max_length=255)


def check_currency(value: object, field: str = "currency") -> str:
    """An ISO-4217 code: three capital letters. Raises `InvalidRequest` otherwise."""
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidRequest(field, f"must be an ISO-4217 code such as 'EUR', got {value!r}")
    return value


def check_country(value: object, field: str) -> str:
    """An ISO-3166 alpha-2 code: two capital letters. Raises `InvalidRequest` otherwise."""
    return check_text(value, field, pattern=_COUNTRY, min_length=2, max_length=2)


def check_int(value: object, field: str, low: int, high: int = _MAX_INT64) -> int:
    """An integer (not a bool) from `low` to `high` inclusive, a signed 64-bit one by default.

    Raises `InvalidRequest` for another type or a value out of bounds.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(field, f"expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidRequest(field, f"must be between {low} and {high}, got {value}")
    return value


def check_seconds(value: object, field: str) -> float:
    """A finite number of seconds above zero, as a float.

    Raises `InvalidRequest` for a bool, a non-number, an infinity, NaN, zero or less.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(field, "expected a finite number of seconds")
    if value <= 0:
        raise InvalidRequest(field, f"must be > 0, got {value}")
    return float(value)


def check_flag(value: object, field: str) -> bool:
    """True or False, nothing merely truthy. Raises `InvalidRequest` otherwise."""
    if not isinstance(value, bool):
        raise InvalidRequest(field, f"expected True or False, got {value!r}")
    return value


def check_choice(value: object, field: str, allowed: Iterable[str]) -> str:
    """One of the `allowed` strings. Raises `InvalidRequest`, listing them, otherwise."""
    options = sorted(allowed)
    if not isinstance(value, str) or value not in options:
        raise InvalidRequest(field, f"must be one of {', '.join(options)}; got {value!r}")
    return value


def check_choices(values: object, field: str, allowed: Iterable[str]) -> list[str]:
    """A list (not a string) of distinct values, each one of the `allowed` strings.

    Raises `InvalidRequest` for a non-list, a value not allowed or a repeated value.
    """
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidRequest(field, "expected a list of values")
    options = frozenset(allowed)
    picked = [check_choice(v, field, options) for v in values]
    if len(set(picked)) != len(picked):
        raise InvalidRequest(field, "values must be unique")
    return picked


def check_timestamp(value: object, field: str) -> int:
    """Epoch milliseconds from a timezone-aware `datetime` or a non-negative int of them.

    Raises `InvalidRequest` for a naive datetime, a negative number or another type.
    """
    if isinstance(value, datetime):
        try:
            return epoch_millis(value)
        except ValueError as exc:
            raise InvalidRequest(field, str(exc)) from exc
    return check_int(value, field, 0)


def check_time_range(
    low: object, high: object, low_field: str, high_field: str
) -> tuple[int | None, int | None]:
    """Two optional timestamps (see `check_timestamp`) as epoch milliseconds, the second after
    the first when both are given. Raises `InvalidRequest` naming the one at fault."""
    start = None if low is None else check_timestamp(low, low_field)
    end = None if high is None else check_timestamp(high, high_field)
    if start is not None and end is not None and end <= start:
        raise InvalidRequest(high_field, f"must be after {low_field}")
    return start, end


def check_order(value: object, field: str = "order") -> str:
    """A sort order: "ASC" or "DESC". Raises `InvalidRequest` otherwise."""
    return check_choice(value, field, ("ASC", "DESC"))


def check_money(value: object, field: str, *, positive: bool = False) -> dict[str, Any]:
    """A `CurrencyAmount` with a valid currency and a 64-bit amount (at least 1 if `positive`),
    as the API's CurrencyAmount. Raises `InvalidRequest` naming the part at fault."""
    if not isinstance(value, CurrencyAmount):
        raise InvalidRequest(field, f"expected a CurrencyAmount, got {type(value).__name__}")
    check_currency(value.currency, f"{field}.currency")
    check_int(value.amount, f"{field}.amount", 1 if positive else -_MAX_INT64)
    return {"currency": value.currency, "amount": value.amount}


def check_instrument(value: object, field: str) -> dict[str, str]:
    """An `InstrumentRef` to a managed account or card with a valid id, as the API's
    InstrumentId. Raises `InvalidRequest` naming the part at fault."""
    if not isinstance(value, InstrumentRef):
        raise InvalidRequest(
            field, "expected an InstrumentRef (InstrumentRef.managed_account('...'))"
        )
    check_choice(value.type, f"{field}.type", ("managed_accounts", "managed_cards"))
    return {"type": value.type, "id": check_identifier(value.id, f"{field}.id")}


def check_calendar_date(value: object, field: str) -> dict[str, int]:
    """A `datetime.date` (not a datetime) or `CalendarDate` from 1900 to 2100, as the API's
    year/month/day object. Raises `InvalidRequest` naming the part at fault."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = CalendarDate(value.year, value.month, value.day)
    if not isinstance(value, CalendarDate):
        raise InvalidRequest(field, "expected a datetime.date or CalendarDate")
    return {
        "year": check_int(value.year, f"{field}.year", 1900, 2100),
        "month": check_int(value.month, f"{field}.month", 1, 12),
        "day": check_int(value.day, f"{field}.day", 1, 31),
    }


def check_email(value: object, field: str = "email") -> str:
    """An email address of at most 254 characters (one `@`, a dot after it, no spaces).

    Raises `InvalidRequest` otherwise.
    """
    return check_text(value, field, pattern=_EMAIL, max_length=254)


def check_phone(country_code: object, number: object, field: str) -> dict[str, str]:
    """A mobile number: a `+` and 1 to 3 digits of country code, then 1 to 12 digits, as the
    API's Mobile. Raises `InvalidRequest` naming the part at fault."""
    return {
        "countryCode": check_text(country_code, f"{field}.country_code", pattern=_PHONE_CODE),
        "number": check_text(number, f"{field}.number", pattern=_PHONE_NUMBER),
    }


def check_locale(value: object, field: str = "locale") -> str:
    """A locale such as "en" or "en-GB". Raises `InvalidRequest` otherwise."""
    return check_text(value, field, pattern=_LOCALE, max_length=5)


def check_brand(value: object, field: str = "brand") -> str:
    """A brand: 1 to 25 letters or digits. Raises `InvalidRequest` otherwise."""
    return check_text(value, field, pattern=_BRAND, max_length=25)
