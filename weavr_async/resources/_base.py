"""What every resource shares: the call helpers, and client-side validation of arguments.

Validation raises `InvalidRequest` naming the argument before anything is sent, with the
contract's own bounds and patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar, overload

import attrs

from .._operation import Operation, QueryPairs, epoch_millis
from .._pagination import Checkpoint, Endpoint, Progress, Stream
from .._responses import ResponseInfo, remember
from .._transport import Auth, CallOptions, Retry, Transport, frameless
from .._wire import check_header_value
from ..errors import InvalidRequest as InvalidRequest
from ..errors import MalformedResponse
from ..models import CalendarDate, CurrencyAmount, InstrumentRef, structure

T = TypeVar("T")

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


@attrs.frozen
class Context:
    """What an identity session hands its resources."""

    transport: Transport
    auth: Auth | None
    page_concurrency: int
    options: CallOptions


class Resource:
    """Base of the resources: thin declarations over `Transport.send` and `Stream`."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @overload
    async def _call(
        self,
        op: Operation,
        into: type[T],
        *,
        path: Mapping[str, str] | None = ...,
        query: QueryPairs | None = ...,
        body: Any = ...,
        idempotency_ref: str | None = ...,
        retry: Retry | None = ...,
    ) -> T: ...

    @overload
    async def _call(
        self,
        op: Operation,
        into: None = ...,
        *,
        path: Mapping[str, str] | None = ...,
        query: QueryPairs | None = ...,
        body: Any = ...,
        idempotency_ref: str | None = ...,
        retry: Retry | None = ...,
    ) -> ResponseInfo: ...

    async def _call(
        self,
        op: Operation,
        into: type[T] | None = None,
        *,
        path: Mapping[str, str] | None = None,
        query: QueryPairs | None = None,
        body: Any = None,
        idempotency_ref: str | None = None,
        retry: Retry | None = None,
    ) -> T | ResponseInfo:
        if idempotency_ref is not None:
            # It goes into a header: printable ASCII only.
            check_header_value(idempotency_ref, "idempotency_ref", max_length=255, allow_space=True)
        options = self._context.options
        if retry is not None:
            options = attrs.evolve(options, retry=retry)
        response = await self._context.transport.send(
            op,
            path_params=path,
            query=query,
            json_body=body,
            auth=self._context.auth if op.secured else None,
            idempotency_ref=idempotency_ref,
            options=options,
        )
        info = ResponseInfo(
            op.operation_id, response.status, response.request_ref, response.headers
        )
        if into is None:
            return info
        try:
            result = structure(response.data, into)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedResponse(
                f"{op.operation_id}: the response does not fit {into.__name__}: "
                f"{type(exc).__name__}: {exc} (request-ref {response.request_ref})",
                operation=op.operation_id,
            ) from frameless(exc)  # the converter's frames hold the data, maybe a token
        remember(result, info)
        return result

    def _stream(
        self,
        endpoint: Endpoint,
        item_type: type[T],
        *,
        path: Mapping[str, str],
        params: Mapping[str, object],
        page_size: int | None,
        concurrency: int | None,
        checkpoint: Checkpoint | None,
        on_progress: Callable[[Progress], None] | None,
    ) -> Stream[T]:
        size = endpoint.max_limit if page_size is None else page_size
        bounded_int(size, "page_size", 1, endpoint.max_limit)
        workers = self._context.page_concurrency if concurrency is None else concurrency
        bounded_int(workers, "concurrency", 1, 256)
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            raise InvalidRequest("checkpoint", "expected a Checkpoint (Checkpoint.from_json)")
        transport = self._context.transport
        auth = self._context.auth
        options = self._context.options
        op = endpoint.operation

        async def fetch(query: QueryPairs, decode: bool) -> Any:
            response = await transport.send(
                op, path_params=path, query=query, auth=auth, decode=decode, options=options
            )
            return response.data

        try:
            return Stream(
                endpoint,
                fetch,
                item_type=item_type,
                params=params,
                path_params=path,
                page_size=size,
                concurrency=workers,
                checkpoint=checkpoint,
                on_progress=on_progress,
                budget=transport.budget,
            )
        except ValueError as exc:
            raise InvalidRequest("checkpoint", str(exc)) from exc


# -- validators (each returns the value as it goes on the wire) ---------------------------


def identifier(value: object, field: str) -> str:
    """An API id: digits only (this also keeps path traversal out of URLs)."""
    if not isinstance(value, str):
        raise InvalidRequest(field, f"expected a string of digits, got {type(value).__name__}")
    if not _DIGITS.fullmatch(value) or len(value) > _MAX_ID_LENGTH:
        raise InvalidRequest(
            field, f"must be digits only (at most {_MAX_ID_LENGTH}), got {value!r}"
        )
    return value


def text(
    value: object,
    field: str,
    *,
    pattern: re.Pattern[str] | None = None,
    min_length: int = 1,
    max_length: int | None = None,
) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(field, f"expected a string, got {type(value).__name__}")
    if len(value) < min_length:
        raise InvalidRequest(field, f"must have at least {min_length} character(s)")
    if max_length is not None and len(value) > max_length:
        raise InvalidRequest(field, f"must have at most {max_length} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidRequest(field, f"does not match {pattern.pattern!r}")
    return value


def tag(value: object, field: str = "tag") -> str:
    return text(value, field, pattern=_TAG, max_length=50)


def description(value: object, field: str = "description") -> str:
    return text(value, field, pattern=_DESCRIPTION, min_length=0, max_length=255)


def currency(value: object, field: str = "currency") -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidRequest(field, f"must be an ISO-4217 code such as 'EUR', got {value!r}")
    return value


def country(value: object, field: str) -> str:
    return text(value, field, pattern=_COUNTRY, min_length=2, max_length=2)


def bounded_int(value: object, field: str, low: int, high: int = _MAX_INT64) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(field, f"expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidRequest(field, f"must be between {low} and {high}, got {value}")
    return value


def flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(field, f"expected True or False, got {value!r}")
    return value


def choice(value: object, field: str, allowed: Iterable[str]) -> str:
    options = sorted(allowed)
    if not isinstance(value, str) or value not in options:
        raise InvalidRequest(field, f"must be one of {', '.join(options)}; got {value!r}")
    return value


def choices(values: object, field: str, allowed: Iterable[str]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidRequest(field, "expected a list of values")
    options = frozenset(allowed)
    picked = [choice(v, field, options) for v in values]
    if len(set(picked)) != len(picked):
        raise InvalidRequest(field, "values must be unique")
    return picked


def timestamp(value: object, field: str) -> int:
    """Epoch milliseconds from an aware `datetime` or an int of milliseconds."""
    if isinstance(value, datetime):
        try:
            return epoch_millis(value)
        except ValueError as exc:
            raise InvalidRequest(field, str(exc)) from exc
    return bounded_int(value, field, 0)


def time_range(
    low: object, high: object, low_field: str, high_field: str
) -> tuple[int | None, int | None]:
    start = None if low is None else timestamp(low, low_field)
    end = None if high is None else timestamp(high, high_field)
    if start is not None and end is not None and end <= start:
        raise InvalidRequest(high_field, f"must be after {low_field}")
    return start, end


def order(value: object, field: str = "order") -> str:
    return choice(value, field, ("ASC", "DESC"))


def money(value: object, field: str, *, positive: bool = False) -> dict[str, Any]:
    if not isinstance(value, CurrencyAmount):
        raise InvalidRequest(field, f"expected a CurrencyAmount, got {type(value).__name__}")
    currency(value.currency, f"{field}.currency")
    bounded_int(value.amount, f"{field}.amount", 1 if positive else -_MAX_INT64)
    return {"currency": value.currency, "amount": value.amount}


def instrument(value: object, field: str) -> dict[str, str]:
    if not isinstance(value, InstrumentRef):
        raise InvalidRequest(
            field, "expected an InstrumentRef (InstrumentRef.managed_account('...'))"
        )
    choice(value.type, f"{field}.type", ("managed_accounts", "managed_cards"))
    return {"type": value.type, "id": identifier(value.id, f"{field}.id")}


def calendar_date(value: object, field: str) -> dict[str, int]:
    if isinstance(value, date) and not isinstance(value, datetime):
        value = CalendarDate(value.year, value.month, value.day)
    if not isinstance(value, CalendarDate):
        raise InvalidRequest(field, "expected a datetime.date or CalendarDate")
    return {
        "year": bounded_int(value.year, f"{field}.year", 1900, 2100),
        "month": bounded_int(value.month, f"{field}.month", 1, 12),
        "day": bounded_int(value.day, f"{field}.day", 1, 31),
    }


def email(value: object, field: str = "email") -> str:
    return text(value, field, pattern=_EMAIL, max_length=254)


def phone(country_code: object, number: object, field: str) -> dict[str, str]:
    return {
        "countryCode": text(country_code, f"{field}.country_code", pattern=_PHONE_CODE),
        "number": text(number, f"{field}.number", pattern=_PHONE_NUMBER),
    }


def locale(value: object, field: str = "locale") -> str:
    return text(value, field, pattern=_LOCALE, max_length=5)


def brand(value: object, field: str = "brand") -> str:
    return text(value, field, pattern=_BRAND, max_length=25)
