"""Bulk processes: submit many transfers or spend-rule updates, then run and track them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from .._operation import Operation
from .._pagination import Checkpoint, Endpoint, Progress, Stream
from ..models import (
    BulkOperation,
    BulkProcess,
    BulkProcessDetails,
    BulkSubmission,
    CardSpendRulesUpdate,
    NewTransfer,
)
from . import _base as v
from .managed_cards import spend_rules_body
from .transfers import transfer_body

LIST = Operation("bulks", "GET", "/bulks")
GET = Operation("bulkId", "GET", "/bulks/{bulk_id}")
OPERATIONS = Operation("bulkIdOperations", "GET", "/bulks/{bulk_id}/operations")
EXECUTE = Operation("bulkIdExecute", "POST", "/bulks/{bulk_id}/execute")
PAUSE = Operation("bulkIdPause", "POST", "/bulks/{bulk_id}/pause")
RESUME = Operation("bulkIdResume", "POST", "/bulks/{bulk_id}/resume")
CANCEL = Operation("bulkIdCancel", "POST", "/bulks/{bulk_id}/cancel")
CREATE_TRANSFERS = Operation(
    "bulksTransferCreate", "POST", "/bulks/transfers", idempotency_ref=True
)
UPDATE_SPEND_RULES = Operation(
    "bulksManagedCardSpendRulesUpdate",
    "PATCH",
    "/bulks/managed_cards/_id_/spend_rules",
    idempotency_ref=True,
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


def _bulk_items(items: object, field: str) -> Sequence[object]:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise v.InvalidRequest(field, "expected a list")
    if not 1 <= len(items) <= MAX_BULK_ITEMS:
        raise v.InvalidRequest(field, f"must hold 1 to {MAX_BULK_ITEMS} items, got {len(items)}")
    return items


class Bulks(v.Resource):
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
        params = {"status": None if status is None else v.choice(status, "status", _PROCESS_STATES)}
        return self._stream(
            LIST_PAGES,
            BulkProcess,
            path={},
            params=params,
            page_size=page_size,
            concurrency=concurrency,
            checkpoint=checkpoint,
            on_progress=on_progress,
        )

    async def get(self, bulk_id: str) -> BulkProcessDetails:
        return await self._call(
            GET, BulkProcessDetails, path={"bulk_id": v.identifier(bulk_id, "bulk_id")}
        )

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
            "status": None if status is None else v.choice(status, "status", _OPERATION_STATES),
            "sequence": None if sequence is None else v.bounded_int(sequence, "sequence", 0),
        }
        return self._stream(
            OPERATION_PAGES,
            BulkOperation,
            path={"bulk_id": v.identifier(bulk_id, "bulk_id")},
            params=params,
            page_size=page_size,
            concurrency=concurrency,
            checkpoint=checkpoint,
            on_progress=on_progress,
        )

    async def execute(
        self, bulk_id: str, *, mode: BulkMode | None = None, webhook_interval: int | None = None
    ) -> None:
        """Start a SUBMITTED process; it runs asynchronously (track it with `get`)."""
        body: dict[str, object] = {}
        if mode is not None:
            body["mode"] = v.choice(mode, "mode", ("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"))
        if webhook_interval is not None:
            body["webhookInterval"] = v.bounded_int(webhook_interval, "webhook_interval", 1)
        await self._call(EXECUTE, path={"bulk_id": v.identifier(bulk_id, "bulk_id")}, body=body)

    async def pause(self, bulk_id: str) -> None:
        await self._call(PAUSE, path={"bulk_id": v.identifier(bulk_id, "bulk_id")})

    async def resume(self, bulk_id: str) -> None:
        await self._call(RESUME, path={"bulk_id": v.identifier(bulk_id, "bulk_id")})

    async def cancel(self, bulk_id: str) -> None:
        await self._call(CANCEL, path={"bulk_id": v.identifier(bulk_id, "bulk_id")})

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
                raise v.InvalidRequest(where, "expected a CardSpendRulesUpdate")
            rules = spend_rules_body(update.rules, f"{where}.rules")
            if update.method is not None:
                rules["updateSpendLimitMethod"] = v.choice(
                    update.method, f"{where}.method", ("OVERWRITE", "INCREMENT")
                )
            body.append(
                {
                    "pathParams": {"_id_": v.identifier(update.card_id, f"{where}.card_id")},
                    "requestBody": rules,
                }
            )
        return await self._call(
            UPDATE_SPEND_RULES, BulkSubmission, body=body, idempotency_ref=idempotency_ref
        )
