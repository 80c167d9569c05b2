"""What account and card statements share: their filters, their stream, their download."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal, TypedDict, Unpack

from .._operation import query_pairs
from .._pagination import Endpoint, SnapshotRule, Stream
from ..errors import InvalidRequest
from ..models import StatementEntry
from ..models.common import STATEMENT_TRANSACTION_TYPES
from ._base import Paging, Resource
from ._validators import (
    check_choices,
    check_flag,
    check_identifier,
    check_int,
    check_order,
    check_time_range,
)

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


class StatementFilters(TypedDict, total=False):
    """The statement filters a caller may give, by their Python names (None: not filtered)."""

    order: StatementOrder | None
    from_timestamp: datetime | int | None
    to_timestamp: datetime | int | None
    transaction_types: Sequence[str] | None
    single_entry_per_transaction: bool | None
    show_fund_movements_only: bool | None  # managed accounts only


def statement_params(**filters: Unpack[StatementFilters]) -> dict[str, object]:
    """The statement filters as wire-named params, validated."""
    start, end = check_time_range(
        filters.get("from_timestamp"), filters.get("to_timestamp"), "from_timestamp", "to_timestamp"
    )
    order = filters.get("order")
    types = filters.get("transaction_types")
    single = filters.get("single_entry_per_transaction")
    fund_movements = filters.get("show_fund_movements_only")
    return {
        "orderByTimestamp": None if order is None else check_order(order),
        "fromTimestamp": start,
        "toTimestamp": end,
        "transactionType": None
        if types is None
        else check_choices(types, "transaction_types", STATEMENT_TRANSACTION_TYPES),
        "singleEntryPerTransaction": None
        if single is None
        else check_flag(single, "single_entry_per_transaction"),
        "showFundMovementsOnly": None
        if fund_movements is None
        else check_flag(fund_movements, "show_fund_movements_only"),
    }


class StatementResource(Resource):
    """Base of the instrument resources that have statements: each declares its statement
    endpoint, the name of its id argument, and in its method signatures the filters its
    endpoint takes; listing and downloading are written here once."""

    _statement_endpoint: Endpoint
    _id_field: str

    def _statement(
        self, instrument_id: str, paging: Paging, **filters: Unpack[StatementFilters]
    ) -> Stream[StatementEntry]:
        params = statement_params(**filters)
        return self._stream(
            self._statement_endpoint,
            StatementEntry,
            paging,
            path={"id": check_identifier(instrument_id, self._id_field)},
            params=params,
        )

    async def _download_statement(
        self,
        instrument_id: str,
        path: str | os.PathLike[str],
        *,
        format: StatementFormat,
        offset: int | None,
        limit: int | None,
        **filters: Unpack[StatementFilters],
    ) -> int:
        """Stream a CSV or PDF statement to `path`; returns the bytes written.

        The body goes to a temporary file beside `path` and is renamed into place only once
        complete, so a failed download never leaves a truncated statement behind.
        """
        params = statement_params(**filters)
        endpoint = self._statement_endpoint
        media_type = _MEDIA_TYPES.get(format)
        if media_type is None:
            raise InvalidRequest("format", "must be 'csv' or 'pdf'")
        if offset is not None:
            params["offset"] = check_int(offset, "offset", 0)
        if limit is not None:
            params[endpoint.limit_param] = check_int(limit, "limit", 1, endpoint.max_limit)
        target = Path(path)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as file:
                written = await self._context.transport.download(
                    endpoint.operation,
                    path_params={"id": check_identifier(instrument_id, self._id_field)},
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
