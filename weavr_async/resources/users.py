"""Authorised users of the identity: create, invite, deactivate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from .._operation import Operation
from .._responses import ResponseInfo
from ..errors import InvalidRequest
from ..models import CalendarDate, Mobile, User
from ._base import Resource
from ._validators import (
    check_brand,
    check_calendar_date,
    check_choices,
    check_country,
    check_email,
    check_identifier,
    check_locale,
    check_phone,
    check_tag,
    check_text,
)

CREATE = Operation("userCreate", "POST", "/users", idempotency_ref=True)
INVITE = Operation("userInviteSend", "POST", "/users/{user_id}/invite", success=204)
DEACTIVATE = Operation("userDeactivate", "POST", "/users/{user_id}/deactivate", success=204)
_ROLES = (
    "CARD_ASSIGNEE",
    "CARDS_MANAGEMENT_ROLE",
    "FUNDS_MANAGEMENT_ROLE",
    "ACCESS_MANAGEMENT_ROLE",
    "ADMIN",
)


class Users(Resource):
    """Authorised users (a restricted feature: the API may answer 403 until enabled)."""

    async def create(
        self,
        *,
        name: str,
        surname: str,
        email: str,
        mobile: Mobile | None = None,
        date_of_birth: date | CalendarDate | None = None,
        tag: str | None = None,
        country_of_residence: str | None = None,
        locale: str | None = None,
        brand: str | None = None,
        roles: Sequence[str] | None = None,
        idempotency_ref: str | None = None,
    ) -> User:
        body: dict[str, object] = {
            "name": check_text(name, "name", max_length=50),
            "surname": check_text(surname, "surname", max_length=50),
            "email": check_email(email),
        }
        if mobile is not None:
            if not isinstance(mobile, Mobile):
                raise InvalidRequest("mobile", "expected a Mobile")
            body["mobile"] = check_phone(mobile.country_code, mobile.number, "mobile")
        if date_of_birth is not None:
            body["dateOfBirth"] = check_calendar_date(date_of_birth, "date_of_birth")
        if tag is not None:
            body["tag"] = check_tag(tag)
        if country_of_residence is not None:
            body["countryOfResidence"] = check_country(country_of_residence, "country_of_residence")
        if locale is not None:
            body["locale"] = check_locale(locale)
        if brand is not None:
            body["brand"] = check_brand(brand)
        if roles is not None:
            body["roles"] = check_choices(roles, "roles", _ROLES)
        return await self._call(CREATE, User, body=body, idempotency_ref=idempotency_ref)

    async def invite(self, user_id: str) -> ResponseInfo:
        """Email the user an invitation to set a password (valid for a month)."""
        return await self._call(INVITE, path={"user_id": check_identifier(user_id, "user_id")})

    async def deactivate(self, user_id: str) -> ResponseInfo:
        return await self._call(DEACTIVATE, path={"user_id": check_identifier(user_id, "user_id")})
