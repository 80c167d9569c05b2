"""What account and card statements share: their filters, their stream, their download."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from .._operation import Operation, query_pairs
from .._pagination import Checkpoint, Endpoint, Progress, SnapshotRule, Stream
from ..models import StatementEntry
from ..models.common import STATEMENT_TRANSACTION_TYPES
from . import _base as v

StatementOrder = Literal["ASC", "DESC"]
StatementFormat = Literal["csv", "pdf"]

STATEMENT_SNAPSHOT = SnapshotRule(
    timestamp_field="processedTimestamp",
    lower_param="fromTimestamp",
    upper_param="toTimestamp",
    order_param="orderByTimestamp",
    fixed_order="DESC",
)
# What identifies a statement entry (its balances may change under a back-dated posting).
STATEMENT_KEY = (
    "transactionId.type",
    "transactionId.id",
    "entryState",
    "transactionAmount.currency",
    "transactionAmount.amount",
    "processedTimestamp",
)
_MEDIA_TYPES: dict[str, str] = {"csv": "text/csv", "pdf": "application/pdf"}


def statement_params(
    *,
    order: StatementOrder | None,
    from_timestamp: datetime | int | None,
    to_timestamp: datetime | int | None,
    transaction_types: Sequence[str] | None,
    single_entry_per_transaction: bool | None,
    show_fund_movements_only: bool | None = None,
) -> dict[str, object]:
    """The statement filters as wire-named params, validated."""
    start, end = v.time_range(from_timestamp, to_timestamp, "from_timestamp", "to_timestamp")
    params: dict[str, object] = {
        "orderByTimestamp": None if order is None else v.order(order),
        "fromTimestamp": start,
        "toTimestamp": end,
        "transactionType": None
        if transaction_types is None
        else v.choices(transaction_types, "transaction_types", STATEMENT_TRANSACTION_TYPES),
        "singleEntryPerTransaction": None
        if single_entry_per_transaction is None
        else v.flag(single_entry_per_transaction, "single_entry_per_transaction"),
        "showFundMovementsOnly": None
        if show_fund_movements_only is None
        else v.flag(show_fund_movements_only, "show_fund_movements_only"),
    }
    return params


class StatementResource(v.Resource):
    """Base of the two instrument resources that have statements."""

    _statement_endpoint: Endpoint
    _id_field: str

    def _statement(
        self,
        instrument_id: str,
        params: dict[str, object],
        *,
        page_size: int | None,
        concurrency: int | None,
        checkpoint: Checkpoint | None,
        on_progress: Callable[[Progress], None] | None,
    ) -> Stream[StatementEntry]:
        return self._stream(
            self._statement_endpoint,
            StatementEntry,
            path={"id": v.identifier(instrument_id, self._id_field)},
            params=params,
            page_size=page_size,
            concurrency=concurrency,
            checkpoint=checkpoint,
            on_progress=on_progress,
        )

    async def _download(
        self,
        instrument_id: str,
        path: str | os.PathLike[str],
        format: StatementFormat,
        params: dict[str, object],
        offset: int | None,
        limit: int | None,
    ) -> int:
        """Stream a CSV or PDF statement to `path`; returns the bytes written.

        The body goes to a temporary file beside `path` and is renamed into place only once
        complete, so a failed download never leaves a truncated statement behind.
        """
        op: Operation = self._statement_endpoint.operation
        media_type = _MEDIA_TYPES.get(format)
        if media_type is None:
            raise v.InvalidRequest("format", "must be 'csv' or 'pdf'")
        if offset is not None:
            params["offset"] = v.bounded_int(offset, "offset", 0)
        if limit is not None:
            params[self._statement_endpoint.limit_param] = v.bounded_int(
                limit, "limit", 1, self._statement_endpoint.max_limit
            )
        target = Path(path)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as file:
                written = await self._context.transport.download(
                    op,
                    path_params={"id": v.identifier(instrument_id, self._id_field)},
                    query=query_pairs(params),
                    auth=self._context.auth,
                    accept=media_type,
                    sink=_FileSink(file),
                    options=self._context.options,
                )
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        return written


class _FileSink:
    """A download's target file, written off the event loop, emptied again before a retry."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    async def restart(self) -> None:
        await asyncio.to_thread(self._restart)

    def _restart(self) -> None:
        self._file.seek(0)
        self._file.truncate()

    async def write(self, chunk: bytes) -> None:
        await asyncio.to_thread(self._file.write, chunk)
