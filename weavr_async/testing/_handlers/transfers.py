"""Transfers."""

from __future__ import annotations

from .._entities import ACCOUNTS, CARDS
from .._replies import Reply, invalid
from .._transfers import (
    TRANSACTION_STATES,
    TransfersQuery,
    create_transfer,
    get_transfer,
    list_transfers,
)
from .._validation import DIGITS, TAG, Problems
from ._call import Call

__all__ = ["create", "get", "list_all"]


def create(call: Call) -> Reply:
    return create_transfer(call.store, call.who, call.json_body())


def get(call: Call) -> Reply:
    return get_transfer(call.store, call.who, call.path_id())


def list_all(call: Call) -> Reply:
    """GET /transfers; its ``instrumentId`` filter is form-exploded into ``id`` and ``type``."""
    problems = Problems()
    offset, limit = call.paging(problems, "limit", 100)
    profile = call.query.get("profileId")
    if profile is not None and not DIGITS.match(profile):
        problems.add("profileId", "REGEX", "profileId must match ^[0-9]+$")
    inst_id, inst_type = call.query.get("id"), call.query.get("type")
    instrument = None
    if inst_id is not None or inst_type is not None:
        if inst_id is None or not DIGITS.match(inst_id):
            problems.add("instrumentId.id", "REGEX", "instrumentId.id must match ^[0-9]+$")
        elif inst_type not in (ACCOUNTS, CARDS):
            problems.add("instrumentId.type", "IN", "instrumentId.type must be an instrument type")
        else:
            instrument = (inst_type, inst_id)
    states = call.query_enums("state", problems, TRANSACTION_STATES)
    created_from = call.query_int("createdFrom", problems)
    created_to = call.query_int("createdTo", problems)
    tag = call.query.get("tag")
    if tag is not None and (len(tag) > 50 or not TAG.match(tag)):
        problems.add("tag", "REGEX", "tag must match ^[a-zA-Z0-9_-]+$ (at most 50 characters)")
    if problems:
        raise invalid(problems)
    query = TransfersQuery(
        offset, limit, profile, instrument, states, created_from, created_to, tag
    )
    arrivals = call.knobs.arrivals_per_transfers_request
    return list_transfers(call.store, call.who, query, arrivals)
