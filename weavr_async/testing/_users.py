"""Authorised users: seeding and creating them (emails unique), inviting, deactivating."""

from __future__ import annotations

import re
from typing import Any

from ._entities import StoredIdentity, StoredUser
from ._replies import Reply, conflict, invalid
from ._store import Store
from ._validation import TAG, Problems, check_int, check_object, check_string

__all__ = ["add_user", "create_user", "deactivate_user", "invite_user"]

USER_ROLES = (
    "CARD_ASSIGNEE",
    "CARDS_MANAGEMENT_ROLE",
    "FUNDS_MANAGEMENT_ROLE",
    "ACCESS_MANAGEMENT_ROLE",
    "ADMIN",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_COUNTRY_CODE = re.compile(r"^\+[0-9]+$")
_MOBILE = re.compile(r"^[0-9]{1,12}$")
_LOCALE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
_BRAND = re.compile(r"^[a-zA-Z0-9]+$")


def add_user(
    store: Store, identity: StoredIdentity, email: str, name: str = "Test", surname: str = "User"
) -> StoredUser:
    """Seed an active user (ValueError for an email in use, whatever its case)."""
    if _email_taken(store, email):
        raise ValueError(f"email already used: {email}")
    user = StoredUser(store.new_id(), identity, name, surname, email)
    store.users[user.id] = user
    return user


def _email_taken(store: Store, email: str) -> bool:
    lowered = email.lower()
    return any(u.email.lower() == lowered for u in store.users.values())


def create_user(store: Store, identity: StoredIdentity, body: Any) -> Reply:
    """POST /users (409 EMAIL_NOT_UNIQUE for an email in use, whatever its case)."""
    problems = Problems()
    obj = check_object(body, problems, "")
    if obj is None:
        raise invalid(problems)
    name = check_string(obj, "name", problems, required=True, min_len=1, max_len=50)
    surname = check_string(obj, "surname", problems, required=True, min_len=1, max_len=50)
    email = check_string(obj, "email", problems, required=True, pattern=_EMAIL, max_len=254)
    extra = _optional_details(obj, problems)
    if problems or name is None or surname is None or email is None:
        raise invalid(problems)
    if _email_taken(store, email):
        raise conflict("EMAIL_NOT_UNIQUE")
    user = StoredUser(store.new_id(), identity, name, surname, email, extra=extra)
    store.users[user.id] = user
    return Reply(200, user.to_json())


def _optional_details(obj: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """The optional members of a new user the body gives (mobile, birth date, roles...)."""
    extra: dict[str, Any] = {}
    mobile = check_object(obj.get("mobile"), problems, "mobile", required=False)
    if mobile is not None:
        code = check_string(
            mobile, "countryCode", problems, "mobile", required=True,
            pattern=_COUNTRY_CODE, min_len=1, max_len=4,
        )  # fmt: skip
        number = check_string(mobile, "number", problems, "mobile", required=True, pattern=_MOBILE)
        if code is not None and number is not None:
            extra["mobile"] = {"countryCode": code, "number": number}
    dob = check_object(obj.get("dateOfBirth"), problems, "dateOfBirth", required=False)
    if dob is not None:
        parts = {
            key: check_int(dob, key, problems, "dateOfBirth", required=True, minimum=lo, maximum=hi)
            for key, lo, hi in (("year", 1900, 2100), ("month", 1, 12), ("day", 1, 31))
        }
        if all(v is not None for v in parts.values()):
            extra["dateOfBirth"] = parts
    for key, pattern, low, high in (
        ("tag", TAG, None, 50),
        ("countryOfResidence", _COUNTRY, 2, 2),
        ("locale", _LOCALE, None, 5),
        ("brand", _BRAND, None, 25),
    ):
        value = check_string(obj, key, problems, pattern=pattern, min_len=low, max_len=high)
        if value is not None:
            extra[key] = value
    roles = obj.get("roles")
    if roles is not None:
        if not isinstance(roles, list) or any(r not in USER_ROLES for r in roles):
            problems.add("roles", "IN", f"roles must be among {', '.join(USER_ROLES)}")
        else:
            extra["roles"] = list(roles)
    return extra


def invite_user(store: Store, identity: StoredIdentity, user_id: str) -> Reply:
    """Send an invite (409 INVITE_ALREADY_CONSUMED once it was used)."""
    user = store.user_of(identity, user_id)
    if user.invite_consumed:
        raise conflict("INVITE_ALREADY_CONSUMED")
    return Reply(204)


def deactivate_user(store: Store, identity: StoredIdentity, user_id: str) -> Reply:
    """Mark the user inactive."""
    store.user_of(identity, user_id).active = False
    return Reply(204)
