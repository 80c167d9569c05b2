"""Bulk processes: submitted, executed (at once, or step by step), paused, resumed, cancelled.

Operations are validated when they run, not when submitted; each runs the rules of its own
operation (`create_transfer`, `update_rules`) and keeps that operation's answer.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson

from ._entities import BulkKind, StoredBulk, StoredBulkOperation, StoredIdentity
from ._replies import Refused, Reply, conflict, invalid
from ._spend_rules import update_rules
from ._store import Store
from ._transfers import create_transfer
from ._validation import DIGITS, Problems, check_enum, check_int, check_object, check_string

__all__ = [
    "BulkOpsQuery",
    "BulksQuery",
    "advance_bulks",
    "bulk_operations",
    "execute_bulk",
    "get_bulk",
    "list_bulks",
    "move_bulk",
    "submit_bulk",
]


@attrs.define
class BulksQuery:
    """Validated GET /bulks parameters."""

    offset: int = 0
    limit: int = 100
    status: str | None = None


@attrs.define
class BulkOpsQuery:
    """Validated GET /bulks/{bulk_id}/operations parameters."""

    offset: int = 0
    limit: int = 100
    sequence: int | None = None
    status: str | None = None


def submit_bulk(store: Store, identity: StoredIdentity, kind: BulkKind, body: Any) -> Reply:
    """A new SUBMITTED process of 1 to 10,000 operations (201)."""
    problems = Problems()
    if not isinstance(body, list):
        problems.add("body", "INVALID_TYPE_OR_VALUE", "body must be an array of operations")
        raise invalid(problems)
    if not 1 <= len(body) <= 10_000:
        problems.add("body", "SIZE", "a bulk must hold between 1 and 10000 operations")
        raise invalid(problems)
    parsed: list[tuple[dict[str, Any], str | None]] = []
    for n, item in enumerate(body):
        path = f"[{n}]"
        obj = check_object(item, problems, path)
        if obj is None:
            continue
        request = check_object(obj.get("requestBody"), problems, f"{path}.requestBody")
        card_id = None
        if kind == "spend_rules":
            params = check_object(obj.get("pathParams"), problems, f"{path}.pathParams")
            if params is not None:
                card_id = check_string(
                    params, "_id_", problems, f"{path}.pathParams", required=True, pattern=DIGITS
                )
        if request is not None:
            parsed.append((request, card_id))
    if problems:
        raise invalid(problems)
    bulk_id = store.new_id()
    ops = []
    for seq, (request, card_id) in enumerate(parsed, start=1):
        if kind == "transfers":
            method, path = "POST", "/transfers"
        else:
            method, path = "PATCH", f"/managed_cards/{card_id}/spend_rules"
        ops.append(StoredBulkOperation(store.new_id(), seq, method, path, request, card_id))
    bulk = StoredBulk(bulk_id, identity, kind, ops)
    store.bulks[bulk_id] = bulk
    store.bulk_order.append(bulk)
    path = "/transfers" if kind == "transfers" else "/managed_cards/_id_/spend_rules"
    return Reply(201, {"bulkId": bulk_id, "operationCount": len(ops), "path": path})


def list_bulks(store: Store, identity: StoredIdentity, q: BulksQuery) -> Reply:
    """GET /bulks: the identity's processes, newest first."""
    matches = [
        b
        for b in reversed(store.bulk_order)
        if b.identity is identity and (q.status is None or b.status == q.status)
    ]
    page = [b.to_json() for b in matches[q.offset : q.offset + q.limit]]
    return Reply(200, {"bulkProcesses": page, "count": len(matches), "responseCount": len(page)})


def get_bulk(store: Store, identity: StoredIdentity, bulk_id: str) -> Reply:
    """GET /bulks/{bulk_id}, with the count of operations in each status."""
    return Reply(200, store.bulk_of(identity, bulk_id).to_json(details=True))


def bulk_operations(store: Store, identity: StoredIdentity, bulk_id: str, q: BulkOpsQuery) -> Reply:
    """GET /bulks/{bulk_id}/operations, in sequence order."""
    bulk = store.bulk_of(identity, bulk_id)
    matches = [
        op
        for op in bulk.ops
        if (q.sequence is None or op.sequence == q.sequence)
        and (q.status is None or op.status == q.status)
    ]
    page = [op.to_json() for op in matches[q.offset : q.offset + q.limit]]
    return Reply(200, {"operations": page, "count": len(matches), "responseCount": len(page)})


def execute_bulk(store: Store, identity: StoredIdentity, bulk_id: str, body: Any) -> Reply:
    """Start a SUBMITTED process (409 INVALID_STATE otherwise); with ``bulk_auto_run`` it runs
    to its end at once."""
    bulk = store.bulk_of(identity, bulk_id)
    problems = Problems()
    obj = check_object(body, problems, "")
    mode = None
    interval = None
    if obj is not None:
        mode = check_enum(obj, "mode", problems, ("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"))
        interval = check_int(obj, "webhookInterval", problems, minimum=0)
    if problems:
        raise invalid(problems)
    if bulk.status != "SUBMITTED":
        raise conflict("INVALID_STATE")
    bulk.status = "RUNNING"
    bulk.mode = mode or "ON_FAILURE_CONTINUE"
    bulk.execution_start = store.now_ms()
    bulk.webhook_interval = interval
    _moved(store, bulk)
    if store.bulk_auto_run:
        _advance(store, bulk, len(bulk.ops))
    return Reply(204)


def move_bulk(store: Store, identity: StoredIdentity, bulk_id: str, action: str) -> Reply:
    """``pause`` a RUNNING process, ``resume`` a PAUSED one, ``cancel`` either (marking every
    unfinished operation CANCELLED); any other move is 409 INVALID_STATE."""
    bulk = store.bulk_of(identity, bulk_id)
    if action == "pause" and bulk.status == "RUNNING":
        bulk.status = "PAUSED"
    elif action == "resume" and bulk.status == "PAUSED":
        bulk.status = "RUNNING"
        _moved(store, bulk)
        if store.bulk_auto_run:
            _advance(store, bulk, len(bulk.ops))
    elif action == "cancel" and bulk.status in ("RUNNING", "PAUSED"):
        for op in bulk.ops[bulk.next_index :]:
            op.status = "CANCELLED"
        bulk.next_index = len(bulk.ops)
        bulk.status = "CANCELLED"
        bulk.execution_finish = store.now_ms()
    else:
        raise conflict("INVALID_STATE")
    _moved(store, bulk)
    return Reply(204)


def advance_bulks(store: Store, count: int) -> int:
    """Run up to ``count`` operations of RUNNING bulks (oldest bulk first)."""
    done = 0
    for bulk in store.bulk_order:
        if done >= count:
            break
        if bulk.status == "RUNNING":
            done += _advance(store, bulk, count - done)
    return done


def _moved(store: Store, bulk: StoredBulk) -> None:
    if store.bulk_listener is not None:
        store.bulk_listener(bulk)


def _run(store: Store, bulk: StoredBulk, op: StoredBulkOperation) -> Reply:
    try:
        if bulk.kind == "transfers":
            return create_transfer(store, bulk.identity, op.request)
        assert op.card_id is not None
        return update_rules(store, bulk.identity, op.card_id, op.request)
    except Refused as refusal:
        # Both operations a bulk runs answer their 400 with validationErrors.
        return refusal.reply("validation")


def _advance(store: Store, bulk: StoredBulk, count: int) -> int:
    """Run up to ``count`` operations of ``bulk``; settle its final status at the end."""
    ran = 0
    while ran < count and bulk.status == "RUNNING" and bulk.next_index < len(bulk.ops):
        op = bulk.ops[bulk.next_index]
        bulk.next_index += 1
        ran += 1
        reply = _run(store, bulk, op)
        op.status = "COMPLETED" if reply.status < 300 else "FAILED"
        op.response_payload = "" if reply.body is None else orjson.dumps(reply.body).decode()
        if op.status == "FAILED" and bulk.mode == "ON_FAILURE_STOP":
            for rest in bulk.ops[bulk.next_index :]:
                rest.status = "CANCELLED"
            bulk.next_index = len(bulk.ops)
        _moved(store, bulk)
    if bulk.status == "RUNNING" and bulk.next_index >= len(bulk.ops):
        completed = sum(1 for op in bulk.ops if op.status == "COMPLETED")
        if completed == len(bulk.ops):
            bulk.status = "COMPLETED"
        elif completed == 0:
            bulk.status = "FAILED"
        else:
            bulk.status = "PARTIALLY_COMPLETED"
        bulk.execution_finish = store.now_ms()
        _moved(store, bulk)
    return ran
