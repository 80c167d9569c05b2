"""Managed Cards: details, statement, block, unblock, remove, renewal and spend rules."""

from __future__ import annotations

from .._entities import CARDS
from .._instruments import (
    block_card,
    get_instrument,
    remove_card,
    set_renewal_type,
    unblock_card,
)
from .._replies import Reply
from .._spend_rules import create_rules, delete_rules, get_rules, update_rules
from .._statements import StatementPage
from ._call import Call
from ._statements import serve_statement

__all__ = [
    "block",
    "create_spend_rules",
    "delete_spend_rules",
    "get",
    "get_spend_rules",
    "get_statement",
    "remove",
    "renewal",
    "unblock",
    "update_spend_rules",
]


def get(call: Call) -> Reply:
    return get_instrument(call.store, call.who, CARDS, call.path_id())


def get_statement(call: Call) -> StatementPage:
    return serve_statement(call, CARDS)


def block(call: Call) -> Reply:
    return block_card(call.store, call.who, call.path_id())


def unblock(call: Call) -> Reply:
    return unblock_card(call.store, call.who, call.path_id())


def remove(call: Call) -> Reply:
    return remove_card(call.store, call.who, call.path_id())


def renewal(call: Call) -> Reply:
    card_id = call.path_id()
    return set_renewal_type(call.store, call.who, card_id, call.json_body())


def get_spend_rules(call: Call) -> Reply:
    return get_rules(call.store, call.who, call.path_id())


def create_spend_rules(call: Call) -> Reply:
    card_id = call.path_id()
    return create_rules(call.store, call.who, card_id, call.json_body())


def update_spend_rules(call: Call) -> Reply:
    card_id = call.path_id()
    return update_rules(call.store, call.who, card_id, call.json_body())


def delete_spend_rules(call: Call) -> Reply:
    return delete_rules(call.store, call.who, call.path_id())
