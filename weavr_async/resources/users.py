"""Authorised users of the identity: create, invite, deactivate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from .._operation import Operation
from .._responses import ResponseInfo
from ..models import CalendarDate, Mobile, User
from . import _base as v

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


class Users(v.Resource):
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
            "name": v.text(name, "name", max_length=50),
            "surname": v.text(surname, "surname", max_length=50),
            "email": v.email(email),
        }
        if mobile is not None:
            if not isinstance(mobile, Mobile):
                raise v.InvalidRequest("mobile", "expected a Mobile")
            body["mobile"] = v.phone(mobile.country_code, mobile.number, "mobile")
        if date_of_birth is not None:
            body["dateOfBirth"] = v.calendar_date(date_of_birth, "date_of_birth")
        if tag is not None:
            body["tag"] = v.tag(tag)
        if country_of_residence is not None:
            body["countryOfResidence"] = v.country(country_of_residence, "country_of_residence")
        if locale is not None:
            body["locale"] = v.locale(locale)
        if brand is not None:
            body["brand"] = v.brand(brand)
        if roles is not None:
            body["roles"] = v.choices(roles, "roles", _ROLES)
        return await self._call(CREATE, User, body=body, idempotency_ref=idempotency_ref)

    async def invite(self, user_id: str) -> ResponseInfo:
        """Email the user an invitation to set a password (valid for a month)."""
        return await self._call(INVITE, path={"user_id": v.identifier(user_id, "user_id")})

    async def deactivate(self, user_id: str) -> ResponseInfo:
        return await self._call(DEACTIVATE, path={"user_id": v.identifier(user_id, "user_id")})
