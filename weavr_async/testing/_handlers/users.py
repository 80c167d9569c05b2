"""Authorised Users."""

from __future__ import annotations

from .._replies import Reply
from .._users import create_user, deactivate_user, invite_user
from ._call import Call

__all__ = ["create", "deactivate", "invite"]


def create(call: Call) -> Reply:
    return create_user(call.store, call.who, call.json_body())


def invite(call: Call) -> Reply:
    return invite_user(call.store, call.who, call.path_id("user_id"))


def deactivate(call: Call) -> Reply:
    return deactivate_user(call.store, call.who, call.path_id("user_id"))
