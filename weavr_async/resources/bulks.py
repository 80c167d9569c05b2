"""Bulk processes: submit many transfers or spend-rule updates, then run and track them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Literal

from .._operation import Operation
from .._pagination import Checkpoint, Endpoint, Progress, Stream
from .._responses import ResponseInfo
from ..errors import InvalidRequest, MalformedResponse, WaitStalled, WaitTimeout
from ..models import (
    BulkOperation,
    BulkProcess,
    BulkProcessDetails,
    BulkSubmission,
    CardSpendRulesUpdate,
    NewTransfer,
)
from ._base import Paging, Resource
from ._validators import check_choice, check_identifier, check_int, check_seconds
from .managed_cards import spend_rules_body
from .transfers import transfer_body

LIST = Operation("bulks", "GET", "/bulks")
GET = Operation("bulkId", "GET", "/bulks/{bulk_id}")
OPERATIONS = Operation("bulkIdOperations", "GET", "/bulks/{bulk_id}/operations")
EXECUTE = Operation("bulkIdExecute", "POST", "/bulks/{bulk_id}/execute", success=204)
PAUSE = Operation("bulkIdPause", "POST", "/bulks/{bulk_id}/pause", success=204)
RESUME = Operation("bulkIdResume", "POST", "/bulks/{bulk_id}/resume", success=204)
CANCEL = Operation("bulkIdCancel", "POST", "/bulks/{bulk_id}/cancel", success=204)
CREATE_TRANSFERS = Operation(
    "bulksTransferCreate", "POST", "/bulks/transfers", idempotency_ref=True, success=201
)
UPDATE_SPEND_RULES = Operation(
    "bulksManagedCardSpendRulesUpdate",
    "PATCH",
    "/bulks/managed_cards/_id_/spend_rules",
    idempotency_ref=True,
    success=201,
)
LIST_PAGES = Endpoint(LIST, "bulkProcesses", "limit", 100, key_fields=("bulkId",))
OPERATION_PAGES = Endpoint(
    OPERATIONS, "operations", "limit", 100, key_fields=("operationId", "sequence")
)

BulkMode = Literal["ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"]
MAX_BULK_ITEMS = 10_000
_PROCESS_STATES = (
    "SUBMITTED",
    "RUNNING",
    "PARTIALLY_COMPLETED",
    "COMPLETED",
    "FAILED",
    "PAUSED",
    "CANCELLED",
)
_OPERATION_STATES = ("SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
# States a process never leaves: every operation ran (or was cancelled). PARTIALLY_COMPLETED is
# one of them: some operations failed under ON_FAILURE_CONTINUE and the rest completed.
FINAL_STATES = frozenset({"COMPLETED", "PARTIALLY_COMPLETED", "FAILED", "CANCELLED"})
# States a process leaves only when somebody acts: a PAUSED process waits for resume or cancel.
# SUBMITTED is not one: right after `execute` the API may still report it for a moment.
STALLED_STATES = frozenset({"PAUSED"})


def _wait_status(bulk: BulkProcessDetails, bulk_id: str) -> str:
    """The state of the process read while waiting, once it is believable."""
    if bulk.bulk_id is not None and bulk.bulk_id != bulk_id:
        raise MalformedResponse(
            f"bulkId: asked for bulk process {bulk_id}, the API answered with {bulk.bulk_id!r}",
            operation=GET.operation_id,
        )
    if bulk.status not in _PROCESS_STATES:
        raise MalformedResponse(
            f"bulkId: bulk process {bulk_id} has status {bulk.status!r}, not one of the "
            "contract's BulkProcessStatus values",
            operation=GET.operation_id,
        )
    return bulk.status


def _bulk_items(items: object, field: str) -> Sequence[object]:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise InvalidRequest(field, "expected a list")
    if not 1 <= len(items) <= MAX_BULK_ITEMS:
        raise InvalidRequest(field, f"must hold 1 to {MAX_BULK_ITEMS} items, got {len(items)}")
    return items


class Bulks(Resource):
    """Bulk processes of the identity (a beta API feature)."""

    def list(
        self,
        *,
        status: str | None = None,
        page_size: int | None = None,
        concurrency: int | None = None,
        checkpoint: Checkpoint | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Stream[BulkProcess]:
        params = {
            "status": None if status is None else check_choice(status, "status", _PROCESS_STATES)
        }
        paging = Paging(page_size, concurrency, checkpoint, on_progress)
        return self._stream(LIST_PAGES, BulkProcess, paging, params=params)

    async def get(self, bulk_id: str) -> BulkProcessDetails:
        return await self._call(
            GET, BulkProcessDetails, path={"bulk_id": check_identifier(bulk_id, "bulk_id")}
        )

    async def wait(
        self,
        bulk_id: str,
        *,
        poll: float = 2.0,
        timeout: float = 600.0,  # noqa: ASYNC109 - the waiter's own deadline, as boto3's
        on_progress: Callable[[BulkProcessDetails], object] | None = None,
    ) -> BulkProcessDetails:
        """Read the process every `poll` seconds until it is final (COMPLETED,
        PARTIALLY_COMPLETED, FAILED or CANCELLED), and return that last reading.

        `on_progress` is called with every reading, the final one included. Each reading is one
        `get` (retried by the transport as any read). Raises `WaitTimeout` (with the last
        state seen) once `timeout` seconds have passed, a request in flight included, and
        `WaitStalled` when the process is PAUSED, which only `resume` or `cancel` change.
        `wait` starts nothing: a SUBMITTED process nobody executes ends in `WaitTimeout`.
        """
        bulk_id = check_identifier(bulk_id, "bulk_id")
        interval = check_seconds(poll, "poll")
        limit = check_seconds(timeout, "timeout")
        if on_progress is not None and not callable(on_progress):
            raise InvalidRequest("on_progress", "expected a callable or None")
        what = f"bulk process {bulk_id}"
        loop = asyncio.get_running_loop()
        started = loop.time()
        last: BulkProcessDetails | None = None
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                while True:
                    last = await self.get(bulk_id)
                    status = _wait_status(last, bulk_id)
                    if on_progress is not None:
                        on_progress(last)
                    if status in FINAL_STATES:
                        return last
                    if status in STALLED_STATES:
                        raise WaitStalled(what, status=status, last=last)
                    await asyncio.sleep(interval)
        except TimeoutError:
            if not deadline.expired():
                raise  # not ours: a timeout from inside the call or the callback
            seen = None if last is None else last.status
            waited = loop.time() - started
            raise WaitTimeout(what, status=seen, last=last, waited=waited) from None

    def operations(
        self,
        bulk_id: str,
        *,
        status: str | None = None,
        sequence: int | None = None,
        page_size: int | None = None,
        concurrency: int | None = None,
        checkpoint: Checkpoint | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Stream[BulkOperation]:
        """The operations of one bulk process, in execution order."""
        params = {
            "status": None if status is None else check_choice(status, "status", _OPERATION_STATES),
            "sequence": None if sequence is None else check_int(sequence, "sequence", 0),
        }
        return self._stream(
            OPERATION_PAGES,
            BulkOperation,
            Paging(page_size, concurrency, checkpoint, on_progress),
            path={"bulk_id": check_identifier(bulk_id, "bulk_id")},
            params=params,
        )

    async def execute(
        self, bulk_id: str, *, mode: BulkMode | None = None, webhook_interval: int | None = None
    ) -> ResponseInfo:
        """Start a SUBMITTED process; it runs asynchronously (track it with `get`)."""
        body: dict[str, object] = {}
        if mode is not None:
            body["mode"] = check_choice(mode, "mode", ("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"))
        if webhook_interval is not None:
            body["webhookInterval"] = check_int(webhook_interval, "webhook_interval", 1)
        return await self._call(
            EXECUTE, path={"bulk_id": check_identifier(bulk_id, "bulk_id")}, body=body
        )

    async def pause(self, bulk_id: str) -> ResponseInfo:
        return await self._call(PAUSE, path={"bulk_id": check_identifier(bulk_id, "bulk_id")})

    async def resume(self, bulk_id: str) -> ResponseInfo:
        return await self._call(RESUME, path={"bulk_id": check_identifier(bulk_id, "bulk_id")})

    async def cancel(self, bulk_id: str) -> ResponseInfo:
        return await self._call(CANCEL, path={"bulk_id": check_identifier(bulk_id, "bulk_id")})

    async def create_transfers(
        self, transfers: Sequence[NewTransfer], *, idempotency_ref: str | None = None
    ) -> BulkSubmission:
        """Submit up to 10,000 transfers as one bulk process (status SUBMITTED)."""
        items = _bulk_items(transfers, "transfers")
        body = [
            {"pathParams": {}, "requestBody": transfer_body(t, f"transfers[{i}]")}  # type: ignore[arg-type]
            for i, t in enumerate(items)
        ]
        return await self._call(
            CREATE_TRANSFERS, BulkSubmission, body=body, idempotency_ref=idempotency_ref
        )

    async def update_card_spend_rules(
        self, updates: Sequence[CardSpendRulesUpdate], *, idempotency_ref: str | None = None
    ) -> BulkSubmission:
        """Submit spend-rule updates for up to 10,000 cards as one bulk process."""
        items = _bulk_items(updates, "updates")
        body = []
        for index, update in enumerate(items):
            where = f"updates[{index}]"
            if not isinstance(update, CardSpendRulesUpdate):
                raise InvalidRequest(where, "expected a CardSpendRulesUpdate")
            rules = spend_rules_body(update.rules, f"{where}.rules")
            if update.method is not None:
                rules["updateSpendLimitMethod"] = check_choice(
                    update.method, f"{where}.method", ("OVERWRITE", "INCREMENT")
                )
            body.append(
                {
                    "pathParams": {"_id_": check_identifier(update.card_id, f"{where}.card_id")},
                    "requestBody": rules,
                }
            )
        return await self._call(
            UPDATE_SPEND_RULES, BulkSubmission, body=body, idempotency_ref=idempotency_ref
        )
