"""Managed cards: details, statements, block/unblock/remove, renewal, spend rules."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from .._operation import Operation
from .._pagination import Checkpoint, Endpoint, Progress, Stream
from .._responses import ResponseInfo
from ..errors import InvalidRequest
from ..models import AllLevelSpendRules, CardSpendRules, ManagedCard, StatementEntry, unstructure
from ._base import Context, Paging, Resource
from ._statements import (
    STATEMENT_KEY,
    STATEMENT_SNAPSHOT,
    StatementFormat,
    StatementOrder,
    StatementResource,
)
from ._validators import (
    check_choice,
    check_country,
    check_identifier,
    check_int,
    check_money,
    check_text,
)

GET = Operation("managedCardGet", "GET", "/managed_cards/{id}")
STATEMENT = Operation("managedCardStatement", "GET", "/managed_cards/{id}/statement")
BLOCK = Operation("managedCardBlock", "POST", "/managed_cards/{id}/block", success=204)
UNBLOCK = Operation("managedCardUnblock", "POST", "/managed_cards/{id}/unblock", success=204)
REMOVE = Operation("managedCardRemove", "POST", "/managed_cards/{id}/remove", success=204)
RENEWAL = Operation(
    "managedCardRenewalTypeUpdate",
    "PATCH",
    "/managed_cards/{id}/renewal",
    idempotency_ref=True,
    success=204,
)
SPEND_RULES_GET = Operation("managedCardSpendRulesGet", "GET", "/managed_cards/{id}/spend_rules")
SPEND_RULES_CREATE = Operation(
    "managedCardSpendRulesCreate", "POST", "/managed_cards/{id}/spend_rules", success=204
)
SPEND_RULES_UPDATE = Operation(
    "managedCardSpendRulesUpdate",
    "PATCH",
    "/managed_cards/{id}/spend_rules",
    idempotency_ref=True,
    success=204,
)
SPEND_RULES_DELETE = Operation(
    "managedCardSpendRulesDelete",
    "DELETE",
    "/managed_cards/{id}/spend_rules",
    naturally_idempotent=True,  # deleting all rules twice leaves the same state
    success=204,
)
STATEMENT_PAGES = Endpoint(
    STATEMENT,
    "entry",
    "limit",
    100,
    snapshot=STATEMENT_SNAPSHOT,
    balances=True,
    key_fields=STATEMENT_KEY,
)

RenewalType = Literal["RENEW", "NO_RENEW"]
SpendLimitUpdateMethod = Literal["OVERWRITE", "INCREMENT"]
_SPEND_INTERVALS = ("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY", "ALWAYS")


def spend_rules_body(rules: object, field: str = "rules") -> dict[str, object]:
    """Validate card spend rules against the contract's bounds and encode them."""
    if not isinstance(rules, CardSpendRules):
        raise InvalidRequest(field, "expected CardSpendRules")
    for name, limit in (
        ("allowed_merchant_categories", 200),
        ("blocked_merchant_categories", 200),
        ("allowed_merchant_ids", 200),
        ("blocked_merchant_ids", 200),
        ("allowed_merchant_countries", 50),
        ("blocked_merchant_countries", 50),
    ):
        values = getattr(rules, name)
        if values is None:
            continue
        if isinstance(values, str) or len(values) > limit:
            raise InvalidRequest(f"{field}.{name}", f"expected a list of at most {limit}")
        for item in values:
            if name.endswith("countries"):
                check_country(item, f"{field}.{name}")
            else:
                check_text(item, f"{field}.{name}")
    for name in ("min_transaction_amount", "max_transaction_amount"):
        amount = getattr(rules, name)
        if amount is not None:
            check_int(amount, f"{field}.{name}", 0)
    for index, limit_rule in enumerate(rules.spend_limit or ()):
        where = f"{field}.spend_limit[{index}]"
        check_money(limit_rule.value, f"{where}.value")
        check_choice(limit_rule.interval, f"{where}.interval", _SPEND_INTERVALS)
    body: dict[str, object] = unstructure(rules)
    return body


class SpendRules(Resource):
    """A card's spend rules: `managed_cards.spend_rules.get/create/update/delete`."""

    async def get(self, card_id: str) -> AllLevelSpendRules:
        return await self._call(
            SPEND_RULES_GET, AllLevelSpendRules, path={"id": check_identifier(card_id, "card_id")}
        )

    async def create(self, card_id: str, rules: CardSpendRules) -> ResponseInfo:
        return await self._call(
            SPEND_RULES_CREATE,
            path={"id": check_identifier(card_id, "card_id")},
            body=spend_rules_body(rules),
        )

    async def update(
        self,
        card_id: str,
        rules: CardSpendRules,
        *,
        method: SpendLimitUpdateMethod | None = None,
        idempotency_ref: str | None = None,
    ) -> ResponseInfo:
        """Change the given rules; `method="INCREMENT"` adds to spend limits instead."""
        body = spend_rules_body(rules)
        if method is not None:
            body["updateSpendLimitMethod"] = check_choice(
                method, "method", ("OVERWRITE", "INCREMENT")
            )
        return await self._call(
            SPEND_RULES_UPDATE,
            path={"id": check_identifier(card_id, "card_id")},
            body=body,
            idempotency_ref=idempotency_ref,
        )

    async def delete(self, card_id: str) -> ResponseInfo:
        return await self._call(
            SPEND_RULES_DELETE, path={"id": check_identifier(card_id, "card_id")}
        )


class ManagedCards(StatementResource):
    """The identity's managed cards."""

    _statement_endpoint = STATEMENT_PAGES
    _id_field = "card_id"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.spend_rules = SpendRules(context)

    async def get(self, card_id: str) -> ManagedCard:
        return await self._call(GET, ManagedCard, path={"id": check_identifier(card_id, "card_id")})

    def statement(
        self,
        card_id: str,
        *,
        order: StatementOrder | None = None,
        from_timestamp: datetime | int | None = None,
        to_timestamp: datetime | int | None = None,
        transaction_types: Sequence[str] | None = None,
        single_entry_per_transaction: bool | None = None,
        page_size: int | None = None,
        concurrency: int | None = None,
        checkpoint: Checkpoint | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Stream[StatementEntry]:
        """The card's statement entries (newest first unless `order="ASC"`), as a stream.

        Pages hold up to 100 entries (the endpoint's cap, and the default).
        """
        return self._statement(
            card_id,
            Paging(page_size, concurrency, checkpoint, on_progress),
            order=order,
            from_timestamp=from_timestamp,
            to_timestamp=to_timestamp,
            transaction_types=transaction_types,
            single_entry_per_transaction=single_entry_per_transaction,
        )

    async def download_statement(
        self,
        card_id: str,
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
            card_id,
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

    async def block(self, card_id: str) -> ResponseInfo:
        """Block the card until unblocked (409 INSTRUMENT_ALREADY_BLOCKED if it is)."""
        return await self._call(BLOCK, path={"id": check_identifier(card_id, "card_id")})

    async def unblock(self, card_id: str) -> ResponseInfo:
        return await self._call(UNBLOCK, path={"id": check_identifier(card_id, "card_id")})

    async def remove(self, card_id: str) -> ResponseInfo:
        """Destroy the card for good; its balance must be zero (409 BALANCE_NOT_ZERO)."""
        return await self._call(REMOVE, path={"id": check_identifier(card_id, "card_id")})

    async def set_renewal_type(
        self, card_id: str, renewal_type: RenewalType, *, idempotency_ref: str | None = None
    ) -> ResponseInfo:
        return await self._call(
            RENEWAL,
            path={"id": check_identifier(card_id, "card_id")},
            body={"renewalType": check_choice(renewal_type, "renewal_type", ("RENEW", "NO_RENEW"))},
            idempotency_ref=idempotency_ref,
        )
