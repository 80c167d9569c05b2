"""Managed Accounts."""

from __future__ import annotations

from .._entities import ACCOUNTS
from .._instruments import get_instrument
from .._replies import Reply
from .._statements import StatementPage
from ._call import Call
from ._statements import serve_statement

__all__ = ["get", "get_statement"]


def get(call: Call) -> Reply:
    return get_instrument(call.store, call.who, ACCOUNTS, call.path_id())


def get_statement(call: Call) -> StatementPage:
    return serve_statement(call, ACCOUNTS)
