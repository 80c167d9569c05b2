"""Bulk processes: many operations submitted at once, then executed and tracked."""

from __future__ import annotations

import attrs

from ._answered import Answered
from .spend_rules import CardSpendRules

__all__ = [
    "BulkOperation",
    "BulkOperationStatusCount",
    "BulkProcess",
    "BulkProcessDetails",
    "BulkSubmission",
    "CardSpendRulesUpdate",
]


@attrs.define(slots=True, kw_only=True)
class BulkProcess(Answered):
    bulk_id: str | None = None
    status: str | None = None
    submitted_items_count: int | None = None
    execution_start: int | None = None
    execution_finish: int | None = None
    operation: str | None = None
    mode: str | None = None


@attrs.define(slots=True, kw_only=True)
class BulkOperationStatusCount:
    status: str | None = None
    count: int | None = None


@attrs.define(slots=True, kw_only=True)
class BulkProcessDetails(BulkProcess):
    operation_status_counts: list[BulkOperationStatusCount] | None = None


@attrs.define(slots=True, kw_only=True)
class BulkOperation:
    operation_id: str | None = None
    sequence: int | None = None
    method: str | None = None
    path: str | None = None
    status: str | None = None
    request_payload: str | None = None
    response_payload: str | None = None


@attrs.define(slots=True, kw_only=True)
class BulkSubmission(Answered):
    """What the API answers to a bulk submission: the new process's id and size."""

    bulk_id: str | None = None
    operation_count: int | None = None
    path: str | None = None


@attrs.define(slots=True, kw_only=True)
class CardSpendRulesUpdate:
    """One item of a bulk spend-rules update: which card, and what to change."""

    card_id: str
    rules: CardSpendRules
    method: str | None = None
