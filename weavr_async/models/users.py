"""Authorised users of an identity."""

from __future__ import annotations

import attrs

from ._answered import Answered
from .common import Identity

__all__ = ["CalendarDate", "Mobile", "User"]


@attrs.define(slots=True, frozen=True)
class Mobile:
    country_code: str
    number: str


@attrs.define(slots=True, frozen=True)
class CalendarDate:
    """The API's `Date`: a calendar day (a `datetime.date` is accepted wherever one is taken)."""

    year: int
    month: int
    day: int


@attrs.define(slots=True)
class User(Answered):
    id: str
    identity: Identity
    name: str
    surname: str
    email: str
    active: bool
    mobile: Mobile | None = None
    date_of_birth: CalendarDate | None = None
    tag: str | None = None
    country_of_residence: str | None = None
    locale: str | None = None
    brand: str | None = None
    roles: list[str] | None = None
