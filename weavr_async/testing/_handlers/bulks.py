"""Bulk processes: submitting them (Operations) and managing them (Manage)."""

from __future__ import annotations

from .._bulks import (
    BulkOpsQuery,
    BulksQuery,
    bulk_operations,
    execute_bulk,
    get_bulk,
    list_bulks,
    move_bulk,
    submit_bulk,
)
from .._entities import BULK_OP_STATUSES, BULK_STATUSES
from .._replies import Reply, invalid
from .._validation import Problems
from ._call import Call

__all__ = [
    "cancel",
    "execute",
    "get",
    "list_all",
    "operations",
    "pause",
    "resume",
    "submit_spend_rules",
    "submit_transfers",
]


def submit_transfers(call: Call) -> Reply:
    return submit_bulk(call.store, call.who, "transfers", call.json_body())


def submit_spend_rules(call: Call) -> Reply:
    return submit_bulk(call.store, call.who, "spend_rules", call.json_body())


def list_all(call: Call) -> Reply:
    problems = Problems()
    offset, limit = call.paging(problems, "limit", 100)
    status = call.query_enum("status", problems, BULK_STATUSES)
    if problems:
        raise invalid(problems)
    return list_bulks(call.store, call.who, BulksQuery(offset, limit, status))


def get(call: Call) -> Reply:
    return get_bulk(call.store, call.who, call.path_id("bulk_id"))


def operations(call: Call) -> Reply:
    bulk_id = call.path_id("bulk_id")
    problems = Problems()
    offset, limit = call.paging(problems, "limit", 100)
    sequence = call.query_int("sequence", problems)
    status = call.query_enum("status", problems, BULK_OP_STATUSES)
    if problems:
        raise invalid(problems)
    query = BulkOpsQuery(offset, limit, sequence, status)
    return bulk_operations(call.store, call.who, bulk_id, query)


def execute(call: Call) -> Reply:
    bulk_id = call.path_id("bulk_id")
    return execute_bulk(call.store, call.who, bulk_id, call.json_body() or {})


def pause(call: Call) -> Reply:
    return move_bulk(call.store, call.who, call.path_id("bulk_id"), "pause")


def resume(call: Call) -> Reply:
    return move_bulk(call.store, call.who, call.path_id("bulk_id"), "resume")


def cancel(call: Call) -> Reply:
    return move_bulk(call.store, call.who, call.path_id("bulk_id"), "cancel")
