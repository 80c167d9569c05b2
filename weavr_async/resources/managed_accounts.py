"""Managed accounts: details and statements."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime

from .._operation import Operation
from .._pagination import Checkpoint, Endpoint, Progress, Stream
from ..models import ManagedAccount, StatementEntry
from ._base import Paging
from ._statements import (
    STATEMENT_KEY,
    STATEMENT_SNAPSHOT,
    StatementFormat,
    StatementOrder,
    StatementResource,
)
from ._validators import check_identifier

GET = Operation("managedAccountGet", "GET", "/managed_accounts/{id}")
STATEMENT = Operation("managedAccountStatement", "GET", "/managed_accounts/{id}/statement")
STATEMENT_PAGES = Endpoint(
    STATEMENT,
    "entry",
    "statementLimit",
    500,
    snapshot=STATEMENT_SNAPSHOT,
    balances=True,
    key_fields=STATEMENT_KEY,
)


class ManagedAccounts(StatementResource):
    """The identity's managed accounts."""

    _statement_endpoint = STATEMENT_PAGES
    _id_field = "account_id"

    async def get(self, account_id: str) -> ManagedAccount:
        return await self._call(
            GET, ManagedAccount, path={"id": check_identifier(account_id, "account_id")}
        )

    def statement(
        self,
        account_id: str,
        *,
        order: StatementOrder | None = None,
        from_timestamp: datetime | int | None = None,
        to_timestamp: datetime | int | None = None,
        transaction_types: Sequence[str] | None = None,
        single_entry_per_transaction: bool | None = None,
        show_fund_movements_only: bool | None = None,
        page_size: int | None = None,
        concurrency: int | None = None,
        checkpoint: Checkpoint | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Stream[StatementEntry]:
        """The account's statement entries (newest first unless `order="ASC"`), as a stream.

        Pages hold up to 500 entries (the endpoint's cap, and the default).
        """
        return self._statement(
            account_id,
            Paging(page_size, concurrency, checkpoint, on_progress),
            order=order,
            from_timestamp=from_timestamp,
            to_timestamp=to_timestamp,
            transaction_types=transaction_types,
            single_entry_per_transaction=single_entry_per_transaction,
            show_fund_movements_only=show_fund_movements_only,
        )

    async def download_statement(
        self,
        account_id: str,
        path: str | os.PathLike[str],
        *,
        format: StatementFormat = "csv",
        order: StatementOrder | None = None,
        from_timestamp: datetime | int | None = None,
        to_timestamp: datetime | int | None = None,
        transaction_types: Sequence[str] | None = None,
        single_entry_per_transaction: bool | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> int:
        """Write the statement as CSV or PDF to `path`, streamed; returns the bytes written."""
        return await self._download_statement(
            account_id,
            path,
            format=format,
            offset=offset,
            limit=limit,
            order=order,
            from_timestamp=from_timestamp,
            to_timestamp=to_timestamp,
            transaction_types=transaction_types,
            single_entry_per_transaction=single_entry_per_transaction,
        )
