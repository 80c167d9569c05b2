"""The simulator's own records of identities, instruments, transfers, users and bulks, and of
the statements it misreports on purpose (`Misstatement`, planted by `_books.corrupt`).

Each knows how the API writes it as JSON; the rules that change them live in the module of
their domain (`_instruments`, `_transfers`, `_users`, `_bulks`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs
import orjson

from ._history import Ledger

__all__ = [
    "ACCOUNTS",
    "BULK_OP_STATUSES",
    "BULK_STATUSES",
    "CARDS",
    "BulkKind",
    "Misstatement",
    "StoredBulk",
    "StoredBulkOperation",
    "StoredIdentity",
    "StoredInstrument",
    "StoredTransfer",
    "StoredUser",
]

ACCOUNTS = "managed_accounts"
CARDS = "managed_cards"
BULK_STATUSES = (
    "SUBMITTED",
    "RUNNING",
    "PARTIALLY_COMPLETED",
    "COMPLETED",
    "FAILED",
    "PAUSED",
    "CANCELLED",
)
BULK_OP_STATUSES = ("SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
BulkKind = Literal["transfers", "spend_rules"]


class StoredIdentity:
    """A corporate or consumer: its instruments, transfers (by creation time) and tokens."""

    __slots__ = (
        "account_profile",
        "card_profile",
        "id",
        "instruments",
        "name",
        "refused",
        "tokens",
        "transfer_profile",
        "transfer_ts",
        "transfers",
        "type",
    )

    def __init__(self, ident: str, kind: str, name: str, profiles: list[str]) -> None:
        self.id = ident
        self.type = kind
        self.name = name
        self.refused = False
        self.tokens: set[str] = set()
        self.instruments: list[StoredInstrument] = []
        self.transfers: list[StoredTransfer] = []
        self.transfer_ts: list[int] = []
        self.account_profile, self.card_profile, self.transfer_profile = profiles

    def ref(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id}


class StoredInstrument:
    """A managed account or card, with its ledger."""

    __slots__ = (
        "blocked_reason",
        "card",
        "created_ms",
        "currency",
        "destroyed_reason",
        "friendly_name",
        "id",
        "identity",
        "kind",
        "ledger",
        "mode",
        "parent",
        "profile_id",
        "renewal_type",
        "rules",
        "state",
        "tag",
    )

    def __init__(
        self,
        ident: str,
        kind: str,
        identity: StoredIdentity,
        currency: str,
        ledger: Ledger,
        profile_id: str,
        created_ms: int,
        friendly_name: str,
    ) -> None:
        self.id = ident
        self.kind = kind
        self.identity = identity
        self.currency = currency
        self.ledger = ledger
        self.profile_id = profile_id
        self.created_ms = created_ms
        self.friendly_name = friendly_name
        self.state = "ACTIVE"
        self.blocked_reason: str | None = None
        self.destroyed_reason: str | None = None
        self.tag: str | None = None
        self.mode: str | None = None
        self.parent: StoredInstrument | None = None
        self.renewal_type = "RENEW"
        self.rules: dict[str, Any] | None = None
        self.card: dict[str, Any] = {}

    @property
    def is_debit(self) -> bool:
        return self.mode == "DEBIT_MODE"

    @property
    def balance(self) -> int:
        return 0 if self.is_debit else self.ledger.balance

    def ref(self) -> dict[str, str]:
        return {"type": self.kind, "id": self.id}

    def state_json(self) -> dict[str, str]:
        state = {"state": self.state}
        if self.blocked_reason is not None:
            state["blockedReason"] = self.blocked_reason
        if self.destroyed_reason is not None:
            state["destroyedReason"] = self.destroyed_reason
        return state


@attrs.define
class StoredTransfer:
    """A transfer between two instruments (source and destination as (type, id) pairs)."""

    id: str
    identity_id: str
    profile_id: str
    source: tuple[str, str]
    destination: tuple[str, str]
    currency: str
    amount: int
    state: str
    created_ms: int
    tag: str | None = None
    description: str | None = None
    scheduled_ms: int | None = None
    executed_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "profileId": self.profile_id,
            "source": {"type": self.source[0], "id": self.source[1]},
            "destination": {"type": self.destination[0], "id": self.destination[1]},
            "destinationAmount": {"currency": self.currency, "amount": self.amount},
            "state": self.state,
            "creationTimestamp": self.created_ms,
        }
        if self.tag is not None:
            body["tag"] = self.tag
        if self.description is not None:
            body["description"] = self.description
        if self.scheduled_ms is not None:
            body["scheduledTimestamp"] = str(self.scheduled_ms)
        if self.executed_ms is not None:
            body["executionTimestamp"] = str(self.executed_ms)
        return body


@attrs.define
class StoredUser:
    """An authorised user of an identity."""

    id: str
    identity: StoredIdentity
    name: str
    surname: str
    email: str
    active: bool = True
    invite_consumed: bool = False
    extra: dict[str, Any] = attrs.Factory(dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "identity": self.identity.ref(),
            "name": self.name,
            "surname": self.surname,
            "email": self.email,
            "active": self.active,
        }
        body.update(self.extra)
        return body


@attrs.define
class StoredBulkOperation:
    """One operation of a bulk process: the request it will run, and how it went."""

    op_id: str
    sequence: int
    method: str
    path: str
    request: dict[str, Any]
    card_id: str | None
    status: str = "SUBMITTED"
    response_payload: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "operationId": self.op_id,
            "sequence": self.sequence,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "requestPayload": orjson.dumps(self.request).decode(),
        }
        if self.response_payload is not None:
            body["responsePayload"] = self.response_payload
        return body


@attrs.define
class StoredBulk:
    """A bulk process: its operations and where its run stands."""

    id: str
    identity: StoredIdentity
    kind: BulkKind
    ops: list[StoredBulkOperation]
    status: str = "SUBMITTED"
    mode: str | None = None
    execution_start: int | None = None
    execution_finish: int | None = None
    next_index: int = 0
    webhook_interval: int | None = None

    @property
    def operation(self) -> str:
        return "/transfers" if self.kind == "transfers" else "/managed_cards/{id}/spend_rules"

    def to_json(self, details: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "bulkId": self.id,
            "status": self.status,
            "submittedItemsCount": len(self.ops),
            "operation": self.operation,
        }
        if self.mode is not None:
            body["mode"] = self.mode
        if self.execution_start is not None:
            body["executionStart"] = self.execution_start
        if self.execution_finish is not None:
            body["executionFinish"] = self.execution_finish
        if details:
            counts = dict.fromkeys(BULK_OP_STATUSES, 0)
            for op in self.ops:
                counts[op.status] += 1
            body["operationStatusCounts"] = [{"status": s, "count": c} for s, c in counts.items()]
        return body


@attrs.define
class Misstatement:
    """How the API misreports one instrument's statement: an offset on every `endBalance`
    it serves, and entries it counts but never serves (by transaction id)."""

    end_balance: int = 0
    hidden: set[int] = attrs.field(factory=set)

    def apply(
        self, ledger: Ledger, indexes: Sequence[int], end_balance: int
    ) -> tuple[Sequence[int], int]:
        """A page's entry indexes and end balance as the misreporting API serves them."""
        if self.hidden:
            txid = ledger.txid
            indexes = [i for i in indexes if txid[i] not in self.hidden]
        return indexes, end_balance + self.end_balance
