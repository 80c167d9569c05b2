"""In-memory state and business rules of the fake BackOffice (no HTTP in here).

Every operation returns a :class:`Reply` (status + JSON-able body) so the same code serves HTTP
requests and bulk operations. All ids, tokens and histories derive from the simulator seed.
"""

from __future__ import annotations

import heapq
import random
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs
import orjson

from ..models.common import Identity
from ._history import KIND, Ledger
from ._validation import (
    DIGITS,
    Problems,
    check_amount,
    check_bool,
    check_enum,
    check_instrument,
    check_int,
    check_object,
    check_string,
    check_string_list,
)

if TYPE_CHECKING:
    from ._books import Misstatement

__all__ = [
    "HISTORY_END_MS",
    "Backend",
    "BulkOpsQuery",
    "BulksQuery",
    "RecordedRequest",
    "Reply",
    "SeededIdentity",
    "SeededInstrument",
    "SeededUser",
    "StatementPage",
    "StatementQuery",
    "TransfersQuery",
]

# Seeded histories end here by default (2026-01-01T00:00:00Z): a fixed anchor keeps them
# identical for a seed, whatever the day the simulator runs.
HISTORY_END_MS = 1_767_225_600_000
_DAY_MS = 24 * 3600 * 1000

IdentityType = Literal["CORPORATE", "CONSUMER"]
CardMode = Literal["PREPAID_MODE", "DEBIT_MODE"]
ACCOUNTS = "managed_accounts"
CARDS = "managed_cards"
TRANSACTION_STATES = (
    "INITIALISED",
    "COMPLETED",
    "REJECTED",
    "FAILED",
    "PENDING",
    "SCHEDULED",
    "CANCELLED",
)
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
SPEND_INTERVALS = ("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY", "ALWAYS")
USER_ROLES = (
    "CARD_ASSIGNEE",
    "CARDS_MANAGEMENT_ROLE",
    "FUNDS_MANAGEMENT_ROLE",
    "ACCESS_MANAGEMENT_ROLE",
    "ADMIN",
)
_TAG = re.compile(r"^[a-zA-Z0-9_-]+$")
_DESCRIPTION = re.compile(r"""^[a-zA-Z0-9\/\-?:().$_,'+\s#=!"%&*<>;\{@\r\n]*$""")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_COUNTRY_CODE = re.compile(r"^\+[0-9]+$")
_MOBILE = re.compile(r"^[0-9]{1,12}$")
_LOCALE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
_BRAND = re.compile(r"^[a-zA-Z0-9]+$")
_MERCHANT_COUNTRY = re.compile(r"^[A-Z]{2}$")
_TRANSFER_KIND = KIND["TRANSFER"]
_FEE_KIND = KIND["CHARGE_FEE"]


# --------------------------------------------------------------------------- public records


@attrs.frozen
class SeededIdentity:
    """An identity created with ``FakeBackOffice.add_identity``."""

    id: str
    type: IdentityType

    @property
    def identity_type(self) -> IdentityType:
        """``CORPORATE`` or ``CONSUMER`` (alias of ``type``)."""
        return self.type

    @property
    def identity(self) -> Identity:
        """The same identity as the SDK names it, for ``BackOffice.identity(...)``."""
        return Identity(self.type, self.id)


@attrs.frozen
class SeededInstrument:
    """A managed account or card created with ``add_managed_account`` / ``add_managed_card``."""

    id: str
    kind: str
    identity_id: str
    currency: str
    mode: str | None = None


@attrs.frozen
class SeededUser:
    """An authorised user created with ``FakeBackOffice.add_user``."""

    id: str
    identity_id: str
    email: str = ""


@attrs.define
class RecordedRequest:
    """One request as received: path is relative to the base URL, header names lower-cased.

    ``status`` is the status answered (0 while in flight, or when the connection was dropped).
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    operation_id: str | None = None


@attrs.define(slots=True)
class Reply:
    """Outcome of one operation: HTTP status and JSON-able body (None for no content)."""

    status: int
    body: Any = None


@attrs.define
class StatementQuery:
    """Validated statement query parameters (timestamps as a half-open window)."""

    offset: int = 0
    limit: int = 100
    descending: bool = True
    from_ts: int | None = None
    to_ts: int | None = None
    kinds: frozenset[int] | None = None


@attrs.define
class StatementPage:
    """One page of statement entries, rendered as JSON, CSV or PDF by the server."""

    ledger: Ledger
    indexes: Sequence[int]
    count: int
    start_balance: int
    end_balance: int
    with_balances: bool

    def entries(self) -> list[dict[str, Any]]:
        """The page's StatementEntry dicts in serving order."""
        entry = self.ledger.entry
        wb = self.with_balances
        return [entry(i, wb) for i in self.indexes]

    def body(self) -> dict[str, Any]:
        """The Statement JSON body."""
        entries = self.entries()
        body: dict[str, Any] = {
            "entry": entries,
            "count": self.count,
            "responseCount": len(entries),
        }
        if self.with_balances:
            cur = self.ledger.currency
            body["startBalance"] = {"currency": cur, "amount": self.start_balance}
            body["endBalance"] = {"currency": cur, "amount": self.end_balance}
        return body


@attrs.define
class TransfersQuery:
    """Validated GET /transfers parameters."""

    offset: int = 0
    limit: int = 100
    profile_id: str | None = None
    instrument: tuple[str, str] | None = None
    states: frozenset[str] | None = None
    created_from: int | None = None
    created_to: int | None = None
    tag: str | None = None


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


# --------------------------------------------------------------------------- internal model


def conflict(code: str) -> Reply:
    """409 with ``{"errorCode": code}``."""
    return Reply(409, {"errorCode": code})


def forbidden() -> Reply:
    """403 INSUFFICIENT_PERMISSIONS (fits both Forbidden and InstrumentForbidden)."""
    return Reply(403, {"errorCode": "INSUFFICIENT_PERMISSIONS"})


def not_found(what: str) -> Reply:
    """404 with the Error body."""
    return Reply(404, {"code": "NOT_FOUND", "message": f"{what} not found"})


def bad_request(problems: Problems, syntax: bool) -> Reply:
    """400 in the shape the operation declares."""
    return Reply(400, problems.body(syntax))


class _Identity:
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
        self.instruments: list[_Instrument] = []
        self.transfers: list[_Transfer] = []
        self.transfer_ts: list[int] = []
        self.account_profile, self.card_profile, self.transfer_profile = profiles

    def ref(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id}


class _Instrument:
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
        identity: _Identity,
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
        self.parent: _Instrument | None = None
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
class _Transfer:
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
class _User:
    id: str
    identity: _Identity
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
class _BulkOp:
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
class _Bulk:
    id: str
    identity: _Identity
    kind: Literal["transfers", "spend_rules"]
    ops: list[_BulkOp]
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


# --------------------------------------------------------------------------- the backend


class Backend:
    """All simulator state and the business rules of the 32 operations."""

    def __init__(
        self, seed: int, fee_types: dict[str, int], history_end_ms: int = HISTORY_END_MS
    ) -> None:
        self.seed = seed
        self.history_end_ms = history_end_ms
        self.rng = random.Random(f"weavr-fake:{seed}")
        self._next_id = 100_000_000_000 + self.rng.randrange(1_000_000) * 1_000_000
        self.identities: dict[str, _Identity] = {}
        self.instruments: dict[str, _Instrument] = {}
        self.transfers: dict[str, _Transfer] = {}
        self.users: dict[str, _User] = {}
        self.bulks: dict[str, _Bulk] = {}
        self.bulk_order: list[_Bulk] = []
        self.tokens: dict[str, _Identity] = {}
        self.fee_types = fee_types
        self.revenue_account_id = self.new_id()
        self.bulk_auto_run = True
        # Called with a bulk process each time it moved (webhook deliveries listen here).
        self.bulk_listener: Callable[[_Bulk], None] | None = None
        self._floor = 0
        self._scheduled: list[tuple[int, int, _Transfer]] = []
        self._sched_seq = 0
        # Instruments whose statements the API misreports (FakeBackOffice.corrupt).
        self.misstatements: dict[str, Misstatement] = {}

    # -- ids and clock

    def new_id(self, reserve: int = 1) -> str:
        """A fresh numeric id; ``reserve`` > 1 also reserves the following ids."""
        value = self._next_id
        self._next_id += reserve
        return str(value)

    def random_token(self, length: int = 40) -> str:
        """A random-looking (seeded) alphanumeric string."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def now_ms(self) -> int:
        """Real epoch ms, but never before the newest recorded entry/transfer + 1."""
        return max(int(time.time() * 1000), self._floor)

    def _stamp(self, *instruments: _Instrument) -> int:
        ts = self.now_ms()
        for inst in instruments:
            ts = max(ts, inst.ledger.last_ts + 1)
        self._floor = max(self._floor, ts)
        return ts

    # -- seeding

    def add_identity(self, kind: str, name: str | None = None) -> _Identity:
        if kind not in ("CORPORATE", "CONSUMER"):
            raise ValueError("identity type must be CORPORATE or CONSUMER")
        ident = _Identity(
            self.new_id(),
            kind,
            name or f"{kind.title()} {len(self.identities) + 1}",
            [self.new_id() for _ in range(3)],
        )
        self.identities[ident.id] = ident
        return ident

    def _new_instrument(
        self, identity: _Identity, kind: str, currency: str, history: int, name: str | None
    ) -> _Instrument:
        if not re.match(r"^[A-Z]{3}$", currency):
            raise ValueError("currency must be a 3-letter ISO code")
        if history < 0:
            raise ValueError("history must be >= 0")
        inst_id = self.new_id()
        ledger = Ledger(currency, random.Random(f"{self.seed}:{inst_id}"), is_card=kind == CARDS)
        # Instruments are created a little before their first seeded entry.
        end = self.history_end_ms
        created = end - 3 * 365 * _DAY_MS - 30 * _DAY_MS if history else end
        profile = identity.account_profile if kind == ACCOUNTS else identity.card_profile
        label = "Account" if kind == ACCOUNTS else "Card"
        inst = _Instrument(
            inst_id,
            kind,
            identity,
            currency,
            ledger,
            profile,
            created,
            name or f"{label} {sum(1 for i in identity.instruments if i.kind == kind) + 1}",
        )
        if history:
            ledger.seed(history, self.history_end_ms, int(self.new_id(reserve=history)))
            self._floor = max(self._floor, ledger.last_ts + 1)
        identity.instruments.append(inst)
        self.instruments[inst_id] = inst
        return inst

    def add_account(
        self, identity: _Identity, currency: str, history: int, name: str | None
    ) -> _Instrument:
        return self._new_instrument(identity, ACCOUNTS, currency, history, name)

    def add_card(
        self,
        identity: _Identity,
        currency: str,
        history: int,
        mode: str,
        parent: _Instrument | None,
        name: str | None,
    ) -> _Instrument:
        if mode not in ("PREPAID_MODE", "DEBIT_MODE"):
            raise ValueError("mode must be PREPAID_MODE or DEBIT_MODE")
        if mode == "PREPAID_MODE" and parent is not None:
            raise ValueError("parent_account is only for DEBIT_MODE cards")
        if mode == "DEBIT_MODE":
            if parent is None or parent.kind != ACCOUNTS:
                raise ValueError("a DEBIT_MODE card needs parent_account (a managed account)")
            if parent.identity is not identity:
                raise ValueError("parent_account belongs to another identity")
            currency = parent.currency
        inst = self._new_instrument(identity, CARDS, currency, history, name)
        inst.mode = mode
        inst.parent = parent if mode == "DEBIT_MODE" else None
        rng = inst.ledger.rng
        start = self.history_end_ms - 400 * _DAY_MS
        month, year = time.gmtime(start / 1000)[1], time.gmtime(start / 1000)[0] % 100
        inst.card = {
            "externalHandle": self.random_token(12),
            "cardBrand": "MASTERCARD",
            "type": "VIRTUAL",
            "nameOnCard": identity.name[:27],
            "cardNumberFirstSix": "522093",
            "cardNumberLastFour": f"{rng.randrange(10_000):04d}",
            "startMmyy": f"{month:02d}{year:02d}",
            "expiryMmyy": f"{month:02d}{(year + 3) % 100:02d}",
            "expiryPeriodMonths": 36,
            "cardNumber": {"value": self.random_token(16)},
            "cvv": {"value": self.random_token(3)},
        }
        return inst

    def add_transfers(self, identity: _Identity, count: int) -> None:
        """Seed ``count`` past transfer records between the identity's fund-holding instruments."""
        pool = self._fund_holders(identity)
        if len(pool) < 2:
            raise ValueError("add_transfers needs two fund-holding instruments of the identity")
        rng = random.Random(f"{self.seed}:transfers:{identity.id}:{len(identity.transfers)}")
        start = self.history_end_ms - 365 * _DAY_MS
        gap = max(1, 365 * _DAY_MS // max(count, 1))
        states = ("COMPLETED",) * 17 + ("PENDING", "REJECTED", "FAILED")
        tags = (None, None, "payroll", "rent", "ops", "refund")
        new: list[_Transfer] = []
        for i in range(count):
            src, dst = rng.sample(pool, 2)
            created = start + i * gap + rng.randrange(gap)
            state = rng.choice(states)
            transfer = _Transfer(
                self.new_id(),
                identity.id,
                identity.transfer_profile,
                (src.kind, src.id),
                (dst.kind, dst.id),
                src.currency,
                100 + rng.randrange(50_000),
                state,
                created,
                tag=rng.choice(tags),
                description=f"Seeded transfer {i + 1}",
                executed_ms=created + 1_000 if state == "COMPLETED" else None,
            )
            new.append(transfer)
        self._file_transfers(identity, new)

    def _file_transfers(self, identity: _Identity, new: list[_Transfer]) -> None:
        for t in new:
            self.transfers[t.id] = t
        if new and (not identity.transfer_ts or new[0].created_ms >= identity.transfer_ts[-1]):
            identity.transfers.extend(new)
            identity.transfer_ts.extend(t.created_ms for t in new)
        else:
            for t in new:
                pos = bisect_right(identity.transfer_ts, t.created_ms)
                identity.transfers.insert(pos, t)
                identity.transfer_ts.insert(pos, t.created_ms)

    def _fund_holders(self, identity: _Identity) -> list[_Instrument]:
        return [i for i in identity.instruments if not i.is_debit and i.state != "DESTROYED"]

    def add_user(
        self, identity: _Identity, email: str, name: str = "Test", surname: str = "User"
    ) -> _User:
        if self._email_taken(email):
            raise ValueError(f"email already used: {email}")
        user = _User(self.new_id(), identity, name, surname, email)
        self.users[user.id] = user
        return user

    def _email_taken(self, email: str) -> bool:
        lowered = email.lower()
        return any(u.email.lower() == lowered for u in self.users.values())

    def post_transactions(self, inst: _Instrument, count: int, at: int | None = None) -> None:
        """Append ``count`` random new entries to ``inst`` at the simulator's now, or insert
        ``count`` back-dated credits at timestamp ``at``."""
        if count <= 0:
            return
        if at is not None:
            first = int(self.new_id(reserve=count))
            for n in range(count):
                inst.ledger.insert_backdated(at, 1_000 + n, first + n)
            return
        ts = self._stamp(inst)
        inst.ledger.add_random(count, ts, int(self.new_id(reserve=count)))

    def arrive_transfers(self, identity: _Identity, count: int) -> None:
        """Create ``count`` new COMPLETED transfer records (records only) at now."""
        pool = self._fund_holders(identity)
        if count <= 0 or len(pool) < 2:
            return
        ts = self.now_ms()
        rng = self.rng
        new = []
        for _ in range(count):
            src, dst = rng.sample(pool, 2)
            new.append(
                _Transfer(
                    self.new_id(),
                    identity.id,
                    identity.transfer_profile,
                    (src.kind, src.id),
                    (dst.kind, dst.id),
                    src.currency,
                    100 + rng.randrange(10_000),
                    "COMPLETED",
                    ts,
                    executed_ms=ts,
                )
            )
        self._floor = max(self._floor, ts)
        self._file_transfers(identity, new)

    # -- tokens

    def issue_token(self, body: Any) -> Reply:
        problems = Problems()
        obj = check_object(body, problems, "")
        ref = None if obj is None else check_object(obj.get("identity"), problems, "identity")
        if ref is not None:
            check_enum(ref, "type", problems, ("CORPORATE", "CONSUMER"), "identity", required=True)
            check_string(ref, "id", problems, "identity", required=True, pattern=DIGITS)
        if problems or ref is None:
            return bad_request(problems, syntax=False)
        identity = self.identities.get(ref["id"])
        if identity is None or identity.type != ref["type"] or identity.refused:
            return conflict("UNRESOLVED_IDENTITY")
        token = self.random_token(48)
        identity.tokens.add(token)
        self.tokens[token] = identity
        return Reply(
            200,
            {
                "token": token,
                "identity": identity.ref(),
                "credentials": {"type": "ROOT", "id": identity.id},
            },
        )

    def expire_tokens(self, identity: _Identity | None) -> None:
        targets = [identity] if identity is not None else list(self.identities.values())
        for ident in targets:
            for token in ident.tokens:
                self.tokens.pop(token, None)
            ident.tokens.clear()

    # -- instruments

    def _lookup(self, identity: _Identity, kind: str, inst_id: str) -> _Instrument | Reply:
        inst = self.instruments.get(inst_id)
        if inst is None or inst.kind != kind:
            label = "managed account" if kind == ACCOUNTS else "managed card"
            return not_found(label)
        if inst.identity is not identity:
            return forbidden()
        return inst

    def account_json(self, inst: _Instrument) -> dict[str, Any]:
        bal = inst.balance
        body: dict[str, Any] = {
            "id": inst.id,
            "profileId": inst.profile_id,
            "friendlyName": inst.friendly_name,
            "currency": inst.currency,
            "balances": {"availableBalance": bal, "actualBalance": bal},
            "state": inst.state_json(),
            "creationTimestamp": inst.created_ms,
        }
        if inst.tag is not None:
            body["tag"] = inst.tag
        return body

    def card_json(self, inst: _Instrument) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": inst.id,
            "profileId": inst.profile_id,
            "friendlyName": inst.friendly_name,
            "currency": inst.currency,
            "state": inst.state_json(),
            "mode": inst.mode,
            "cardLevelClassification": inst.identity.type,
            "renewalType": inst.renewal_type,
            "creationTimestamp": inst.created_ms,
            "billingAddress": {
                "addressLine1": "1 Test Street",
                "city": "Valletta",
                "postCode": "VLT 1000",
                "country": "MT",
            },
            "digitalWallets": {"pushProvisioningEnabled": False, "walletsEnabled": False},
        }
        body.update(inst.card)
        if inst.tag is not None:
            body["tag"] = inst.tag
        if inst.is_debit:
            assert inst.parent is not None
            body["parentManagedAccountId"] = inst.parent.id
            limits = (inst.rules or {}).get("spendLimit") or []
            body["availableToSpend"] = [
                {"value": dict(limit["value"]), "interval": limit["interval"]} for limit in limits
            ]
        else:
            bal = inst.balance
            body["balances"] = {"availableBalance": bal, "actualBalance": bal}
        return body

    def get_instrument(self, identity: _Identity, kind: str, inst_id: str) -> Reply:
        found = self._lookup(identity, kind, inst_id)
        if isinstance(found, Reply):
            return found
        body = self.account_json(found) if kind == ACCOUNTS else self.card_json(found)
        return Reply(200, body)

    def statement(
        self, identity: _Identity, kind: str, inst_id: str, q: StatementQuery, arrivals: int
    ) -> Reply | StatementPage:
        found = self._lookup(identity, kind, inst_id)
        if isinstance(found, Reply):
            return found
        if arrivals > 0:
            self.post_transactions(found, arrivals)
        ledger = found.ledger
        lo, hi = ledger.window(q.from_ts, q.to_ts)
        start_balance = ledger.balance_before(lo)
        end_balance = ledger.bal[hi - 1] if hi > lo else start_balance
        indexes: Sequence[int]
        if q.kinds is None:
            a, b = lo, hi
            base: Sequence[int] | None = None
        else:
            base = ledger.positions(q.kinds)
            a, b = bisect_left(base, lo), bisect_left(base, hi)
        count = b - a
        if q.descending:
            first = b - 1 - q.offset
            last = max(first - q.limit, a - 1)
            sel = range(first, last, -1) if first >= a else range(0)
        else:
            first = a + q.offset
            sel = range(first, min(first + q.limit, b))
        indexes = sel if base is None else [base[i] for i in sel]
        misstated = self.misstatements.get(found.id)
        if misstated is not None:
            indexes, end_balance = misstated.apply(ledger, indexes, end_balance)
        return StatementPage(
            ledger, indexes, count, start_balance, end_balance, with_balances=not found.is_debit
        )

    def ledger_entries(self, inst: _Instrument) -> list[dict[str, Any]]:
        ledger = inst.ledger
        wb = not inst.is_debit
        entries = [ledger.entry(i, wb) for i in range(len(ledger))]
        result: list[dict[str, Any]] = orjson.loads(orjson.dumps(entries))
        return result

    # -- card actions

    def _card(self, identity: _Identity, card_id: str) -> _Instrument | Reply:
        return self._lookup(identity, CARDS, card_id)

    def card_block(self, identity: _Identity, card_id: str) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        if card.state == "DESTROYED":
            return conflict("INSTRUMENT_DESTROYED")
        if card.blocked_reason == "LOST":
            return conflict("INSTRUMENT_MARKED_LOST_STOLEN")
        if card.state == "BLOCKED":
            return conflict("INSTRUMENT_ALREADY_BLOCKED")
        card.state, card.blocked_reason = "BLOCKED", "USER"
        return Reply(204)

    def card_unblock(self, identity: _Identity, card_id: str) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        if card.state == "DESTROYED":
            return conflict("INSTRUMENT_DESTROYED")
        if card.state != "BLOCKED":
            return conflict("INSTRUMENT_NOT_BLOCKED")
        if card.blocked_reason == "LOST":
            return conflict("INSTRUMENT_MARKED_LOST_STOLEN")
        if card.blocked_reason != "USER":
            return forbidden()  # only a USER block can be lifted through the API
        card.state, card.blocked_reason = "ACTIVE", None
        return Reply(204)

    def card_remove(self, identity: _Identity, card_id: str) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        if card.state == "DESTROYED":
            return conflict("INSTRUMENT_ALREADY_REMOVED")
        if card.balance != 0:
            return conflict("BALANCE_NOT_ZERO")
        card.state, card.blocked_reason, card.destroyed_reason = "DESTROYED", None, "USER"
        return Reply(204)

    def card_renewal(self, identity: _Identity, card_id: str, body: Any) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        problems = Problems()
        obj = check_object(body, problems, "")
        renewal = None
        if obj is not None:
            renewal = check_enum(obj, "renewalType", problems, ("RENEW", "NO_RENEW"), required=True)
        if problems or renewal is None:
            return bad_request(problems, syntax=False)
        if card.state == "DESTROYED":
            return conflict("INSTRUMENT_DESTROYED")
        card.renewal_type = renewal
        return Reply(204)

    # -- spend rules

    def rules_get(self, identity: _Identity, card_id: str) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        rules = orjson.loads(orjson.dumps(card.rules or {}))
        return Reply(
            200,
            {
                "cardLevelSpendRules": rules,
                "profileLevelSpendRules": {
                    "allowContactless": True,
                    "allowAtm": True,
                    "allowECommerce": True,
                    "allowCashback": True,
                    "allowCreditAuthorisations": True,
                    "blockedMerchantCategories": ["7995"],
                },
                "identityLevelSpendRules": {},
            },
        )

    def _parse_rules(self, body: Any, update: bool) -> tuple[dict[str, Any], str] | Problems:
        problems = Problems()
        obj = check_object(body, problems, "")
        if obj is None:
            return problems
        rules: dict[str, Any] = {}
        for key in (
            "allowedMerchantCategories",
            "blockedMerchantCategories",
            "allowedMerchantIds",
            "blockedMerchantIds",
        ):
            value = check_string_list(obj, key, problems, max_items=200)
            if value is not None:
                rules[key] = value
        for key in ("allowedMerchantCountries", "blockedMerchantCountries"):
            value = check_string_list(obj, key, problems, max_items=50, pattern=_MERCHANT_COUNTRY)
            if value is not None:
                rules[key] = value
        for key in (
            "allowContactless",
            "allowAtm",
            "allowECommerce",
            "allowCashback",
            "allowCreditAuthorisations",
        ):
            flag = check_bool(obj, key, problems)
            if flag is not None:
                rules[key] = flag
        for key in ("minTransactionAmount", "maxTransactionAmount"):
            amount = check_int(obj, key, problems, minimum=0)
            if amount is not None:
                rules[key] = amount
        rollover = check_object(
            obj.get("rolloverPolicy"), problems, "rolloverPolicy", required=False
        )
        if rollover is not None:
            flag = check_bool(
                rollover, "rolloverNegative", problems, "rolloverPolicy", required=True
            )
            if flag is not None:
                rules["rolloverPolicy"] = {"rolloverNegative": flag}
        limits = obj.get("spendLimit")
        if limits is not None:
            if not isinstance(limits, list):
                problems.add("spendLimit", "INVALID_TYPE_OR_VALUE", "spendLimit must be an array")
            else:
                parsed = []
                for n, item in enumerate(limits):
                    path = f"spendLimit[{n}]"
                    limit = check_object(item, problems, path)
                    if limit is None:
                        continue
                    money = check_amount(limit, "value", problems, path)
                    interval = check_enum(
                        limit, "interval", problems, SPEND_INTERVALS, path, required=True
                    )
                    start = check_int(limit, "startTimestamp", problems, path)
                    if money is None or interval is None:
                        continue
                    entry: dict[str, Any] = {
                        "value": {"currency": money[0], "amount": money[1]},
                        "interval": interval,
                    }
                    if start is not None:
                        entry["startTimestamp"] = start
                    parsed.append(entry)
                rules["spendLimit"] = parsed
        method = "OVERWRITE"
        if update:
            method = (
                check_enum(obj, "updateSpendLimitMethod", problems, ("OVERWRITE", "INCREMENT"))
                or "OVERWRITE"
            )
        if problems:
            return problems
        return rules, method

    @staticmethod
    def _limit_conflict(card: _Instrument, limits: list[dict[str, Any]]) -> Reply | None:
        if not limits:
            return None
        if not card.is_debit:
            return conflict("SPEND_LIMIT_NOT_SUPPORTED_FOR_PREPAID_MODE_CARD")
        if any(limit["value"]["currency"] != card.currency for limit in limits):
            return conflict("SPEND_LIMIT_CURRENCY_DIFFERENT_FROM_CARD_CURRENCY")
        if any(limit["value"]["amount"] < 0 for limit in limits):
            return conflict("SPEND_LIMIT_AMOUNT_INVALID")
        intervals = [limit["interval"] for limit in limits]
        if len(set(intervals)) != len(intervals):
            return conflict("SPEND_LIMIT_DUPLICATE_INTERVAL")
        return None

    def rules_create(self, identity: _Identity, card_id: str, body: Any) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        parsed = self._parse_rules(body, update=False)
        if isinstance(parsed, Problems):
            return bad_request(parsed, syntax=False)
        rules, _ = parsed
        if card.rules is not None:
            return conflict("SPEND_RULE_ALREADY_SET")
        failure = self._limit_conflict(card, rules.get("spendLimit") or [])
        if failure is not None:
            return failure
        card.rules = rules
        return Reply(204)

    def rules_update(self, identity: _Identity, card_id: str, body: Any) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        parsed = self._parse_rules(body, update=True)
        if isinstance(parsed, Problems):
            return bad_request(parsed, syntax=False)
        changes, method = parsed
        limits = changes.pop("spendLimit", None)
        failure = self._limit_conflict(card, limits or [])
        if failure is not None:
            return failure
        merged = dict(card.rules or {})
        merged.update(changes)
        if limits is not None:
            if method == "INCREMENT":
                current = [
                    {**lim, "value": dict(lim["value"])} for lim in merged.get("spendLimit", [])
                ]
                by_interval = {lim["interval"]: lim for lim in current}
                for lim in limits:
                    existing = by_interval.get(lim["interval"])
                    if existing is None:
                        current.append(lim)
                    else:
                        existing["value"]["amount"] += lim["value"]["amount"]
                merged["spendLimit"] = current
            else:
                merged["spendLimit"] = limits
        card.rules = merged
        return Reply(204)

    def rules_delete(self, identity: _Identity, card_id: str) -> Reply:
        card = self._card(identity, card_id)
        if isinstance(card, Reply):
            return card
        card.rules = None
        return Reply(204)

    # -- transfers

    def transfer_create(self, identity: _Identity, body: Any) -> Reply:
        problems = Problems()
        obj = check_object(body, problems, "")
        if obj is None:
            return bad_request(problems, syntax=False)
        profile_id = check_string(obj, "profileId", problems, required=True, pattern=DIGITS)
        tag = check_string(obj, "tag", problems, pattern=_TAG, max_len=50)
        source = check_instrument(obj, "source", problems)
        destination = check_instrument(obj, "destination", problems)
        description = check_string(obj, "description", problems, max_len=255, pattern=_DESCRIPTION)
        amount = check_amount(obj, "destinationAmount", problems)
        scheduled = check_string(obj, "scheduledTimestamp", problems, pattern=DIGITS)
        if problems or profile_id is None or source is None or destination is None:
            return bad_request(problems, syntax=False)
        assert amount is not None
        currency, value = amount
        if value <= 0:
            return conflict("AMOUNT_INVALID")
        src = self.instruments.get(source[1])
        if src is None or src.kind != source[0] or src.identity is not identity:
            return conflict("SOURCE_NOT_FOUND")
        dst = self.instruments.get(destination[1])
        if dst is None or dst.kind != destination[0] or dst.identity is not identity:
            return conflict("DESTINATION_NOT_FOUND")
        if src is dst:
            return conflict("SOURCE_AND_DESTINATION_MUST_BE_DIFFERENT")
        failure = self._transfer_check(src, dst, currency)
        if failure is not None:
            return conflict(failure)
        now = self.now_ms()
        transfer = _Transfer(
            self.new_id(),
            identity.id,
            profile_id,
            source,
            destination,
            currency,
            value,
            "PENDING",
            now,
            tag=tag,
            description=description,
        )
        if scheduled is not None:
            when = int(scheduled)
            if when <= now:
                return conflict("SCHEDULED_TIMESTAMP_INVALID")
            transfer.state = "SCHEDULED"
            transfer.scheduled_ms = when
            self._sched_seq += 1
            heapq.heappush(self._scheduled, (when, self._sched_seq, transfer))
        else:
            if src.balance < value:
                return conflict("FUNDS_INSUFFICIENT")
            self._move(transfer, src, dst)
        self._floor = max(self._floor, transfer.created_ms)
        self._file_transfers(identity, [transfer])
        return Reply(200, transfer.to_json())

    @staticmethod
    def _transfer_check(src: _Instrument, dst: _Instrument, currency: str) -> str | None:
        if src.is_debit:
            return "SOURCE_CANNOT_BE_DEBIT_MODE_CARD"
        if dst.is_debit:
            return "DESTINATION_CANNOT_BE_DEBIT_MODE_CARD"
        if src.state == "DESTROYED":
            return "SOURCE_INSTRUMENT_DESTROYED"
        if dst.state == "DESTROYED":
            return "DESTINATION_INSTRUMENT_DESTROYED"
        if src.state == "BLOCKED":
            return "SOURCE_INSTRUMENT_BLOCKED"
        if dst.state == "BLOCKED":
            return "DESTINATION_INSTRUMENT_BLOCKED"
        if src.currency != dst.currency or currency != src.currency:
            return "CURRENCY_MISMATCH"
        return None

    def _move(self, transfer: _Transfer, src: _Instrument, dst: _Instrument) -> None:
        ts = self._stamp(src, dst)
        txid = int(transfer.id)
        fields = {
            "sourceInstrumentType": src.kind,
            "sourceInstrumentId": src.id,
            "sourceInstrumentFriendlyName": src.friendly_name,
            "destinationInstrumentType": dst.kind,
            "destinationInstrumentId": dst.id,
            "destinationInstrumentFriendlyName": dst.friendly_name,
        }
        if transfer.description:
            fields["description"] = transfer.description
        src.ledger.append(ts, _TRANSFER_KIND, -transfer.amount, txid, fields)
        dst.ledger.append(ts, _TRANSFER_KIND, transfer.amount, txid, fields)
        transfer.state = "COMPLETED"
        transfer.executed_ms = ts

    def run_due_transfers(self) -> None:
        """Execute scheduled transfers whose time has come (COMPLETED, or FAILED if invalid)."""
        if not self._scheduled:
            return
        now = self.now_ms()
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, transfer = heapq.heappop(self._scheduled)
            if transfer.state != "SCHEDULED":
                continue
            src = self.instruments[transfer.source[1]]
            dst = self.instruments[transfer.destination[1]]
            if (
                self._transfer_check(src, dst, transfer.currency) is None
                and src.balance >= transfer.amount
            ):
                self._move(transfer, src, dst)
            else:
                transfer.state = "FAILED"
                transfer.executed_ms = now

    def transfers_list(self, identity: _Identity, q: TransfersQuery, arrivals: int) -> Reply:
        if q.instrument is not None:
            inst = self.instruments.get(q.instrument[1])
            if inst is not None and inst.identity is not identity:
                return forbidden()
        if arrivals > 0:
            self.arrive_transfers(identity, arrivals)
        ts = identity.transfer_ts
        lo = 0 if q.created_from is None else bisect_left(ts, q.created_from)
        hi = len(ts) if q.created_to is None else bisect_left(ts, q.created_to)
        hi = max(lo, hi)
        items = identity.transfers
        plain = q.profile_id is None and q.instrument is None and q.states is None and q.tag is None
        if plain:
            count = hi - lo
            first = hi - 1 - q.offset
            last = max(first - q.limit, lo - 1)
            page = [items[i] for i in range(first, last, -1)] if first >= lo else []
        else:
            matches = [t for t in reversed(items[lo:hi]) if self._transfer_matches(t, q)]
            count = len(matches)
            page = matches[q.offset : q.offset + q.limit]
        body = [t.to_json() for t in page]
        return Reply(200, {"transfer": body, "count": count, "responseCount": len(body)})

    @staticmethod
    def _transfer_matches(t: _Transfer, q: TransfersQuery) -> bool:
        if q.profile_id is not None and t.profile_id != q.profile_id:
            return False
        if q.instrument is not None and t.source != q.instrument:
            return False
        if q.states is not None and t.state not in q.states:
            return False
        return q.tag is None or t.tag == q.tag

    def transfer_get(self, identity: _Identity, transfer_id: str) -> Reply:
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            return not_found("transfer")
        if transfer.identity_id != identity.id:
            return forbidden()
        return Reply(200, transfer.to_json())

    # -- fees

    def charge_fee(self, identity: _Identity, body: Any, syntax: bool) -> Reply:
        problems = Problems()
        obj = check_object(body, problems, "")
        if obj is None:
            return bad_request(problems, syntax)
        fee_type = check_string(obj, "feeType", problems, required=True, min_len=1)
        source = check_instrument(obj, "source", problems)
        if problems or fee_type is None or source is None:
            return bad_request(problems, syntax)
        if fee_type not in self.fee_types:
            return conflict("UNRESOLVED_FEE_TYPE")
        fee = self.fee_types[fee_type]
        inst = self.instruments.get(source[1])
        if inst is None or inst.kind != source[0]:
            return conflict("UNRESOLVED_INSTRUMENT")
        if inst.identity is not identity:
            return conflict("IDENTITY_NOT_OWNER_OF_INSTRUMENT")
        if inst.is_debit or inst.state == "DESTROYED":
            return conflict("UNRESOLVED_INSTRUMENT")
        if fee <= 0:
            return conflict("FEE_AMOUNT_NOT_SET")
        if inst.balance < fee:
            return conflict("FUNDS_INSUFFICIENT")
        ts = self._stamp(inst)
        txid = self.new_id()
        inst.ledger.append(ts, _FEE_KIND, -fee, int(txid), {"chargeFeeType": fee_type})
        return Reply(
            200,
            {
                "transactionId": {"type": "CHARGE_FEE", "id": txid},
                "profileId": inst.profile_id,
                "feeType": fee_type,
                "source": inst.ref(),
                "destination": {"type": ACCOUNTS, "id": self.revenue_account_id},
                "availableBalanceAdjustment": {"currency": inst.currency, "amount": -fee},
                "state": "COMPLETED",
                "creationTimestamp": ts,
            },
        )

    # -- users

    def user_create(self, identity: _Identity, body: Any) -> Reply:
        problems = Problems()
        obj = check_object(body, problems, "")
        if obj is None:
            return bad_request(problems, syntax=True)
        name = check_string(obj, "name", problems, required=True, min_len=1, max_len=50)
        surname = check_string(obj, "surname", problems, required=True, min_len=1, max_len=50)
        email = check_string(obj, "email", problems, required=True, pattern=_EMAIL, max_len=254)
        extra: dict[str, Any] = {}
        mobile = check_object(obj.get("mobile"), problems, "mobile", required=False)
        if mobile is not None:
            code = check_string(
                mobile, "countryCode", problems, "mobile", required=True,
                pattern=_COUNTRY_CODE, min_len=1, max_len=4,
            )  # fmt: skip
            number = check_string(
                mobile, "number", problems, "mobile", required=True, pattern=_MOBILE
            )
            if code is not None and number is not None:
                extra["mobile"] = {"countryCode": code, "number": number}
        dob = check_object(obj.get("dateOfBirth"), problems, "dateOfBirth", required=False)
        if dob is not None:
            parts = {
                key: check_int(
                    dob, key, problems, "dateOfBirth", required=True, minimum=lo, maximum=hi
                )
                for key, lo, hi in (("year", 1900, 2100), ("month", 1, 12), ("day", 1, 31))
            }
            if all(v is not None for v in parts.values()):
                extra["dateOfBirth"] = parts
        for key, pattern, low, high in (
            ("tag", _TAG, None, 50),
            ("countryOfResidence", _COUNTRY, 2, 2),
            ("locale", _LOCALE, None, 5),
            ("brand", _BRAND, None, 25),
        ):
            value = check_string(obj, key, problems, pattern=pattern, min_len=low, max_len=high)
            if value is not None:
                extra[key] = value
        roles = obj.get("roles")
        if roles is not None:
            if not isinstance(roles, list) or any(r not in USER_ROLES for r in roles):
                problems.add("roles", "IN", f"roles must be among {', '.join(USER_ROLES)}")
            else:
                extra["roles"] = list(roles)
        if problems or name is None or surname is None or email is None:
            return bad_request(problems, syntax=True)
        if self._email_taken(email):
            return conflict("EMAIL_NOT_UNIQUE")
        user = _User(self.new_id(), identity, name, surname, email, extra=extra)
        self.users[user.id] = user
        return Reply(200, user.to_json())

    def _user(self, identity: _Identity, user_id: str) -> _User | Reply:
        user = self.users.get(user_id)
        if user is None:
            return not_found("user")
        if user.identity is not identity:
            return forbidden()
        return user

    def user_invite(self, identity: _Identity, user_id: str) -> Reply:
        user = self._user(identity, user_id)
        if isinstance(user, Reply):
            return user
        if user.invite_consumed:
            return conflict("INVITE_ALREADY_CONSUMED")
        return Reply(204)

    def user_deactivate(self, identity: _Identity, user_id: str) -> Reply:
        user = self._user(identity, user_id)
        if isinstance(user, Reply):
            return user
        user.active = False
        return Reply(204)

    # -- bulks

    def bulk_submit(
        self, identity: _Identity, kind: Literal["transfers", "spend_rules"], body: Any
    ) -> Reply:
        problems = Problems()
        if not isinstance(body, list):
            problems.add("body", "INVALID_TYPE_OR_VALUE", "body must be an array of operations")
            return bad_request(problems, syntax=True)
        if not 1 <= len(body) <= 10_000:
            problems.add("body", "SIZE", "a bulk must hold between 1 and 10000 operations")
            return bad_request(problems, syntax=True)
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
                        params,
                        "_id_",
                        problems,
                        f"{path}.pathParams",
                        required=True,
                        pattern=DIGITS,
                    )
            if request is not None:
                parsed.append((request, card_id))
        if problems:
            return bad_request(problems, syntax=True)
        bulk_id = self.new_id()
        ops = []
        for seq, (request, card_id) in enumerate(parsed, start=1):
            if kind == "transfers":
                method, path = "POST", "/transfers"
            else:
                method, path = "PATCH", f"/managed_cards/{card_id}/spend_rules"
            ops.append(_BulkOp(self.new_id(), seq, method, path, request, card_id))
        bulk = _Bulk(bulk_id, identity, kind, ops)
        self.bulks[bulk_id] = bulk
        self.bulk_order.append(bulk)
        path = "/transfers" if kind == "transfers" else "/managed_cards/_id_/spend_rules"
        return Reply(201, {"bulkId": bulk_id, "operationCount": len(ops), "path": path})

    def _bulk(self, identity: _Identity, bulk_id: str) -> _Bulk | Reply:
        bulk = self.bulks.get(bulk_id)
        if bulk is None:
            return not_found("bulk process")
        if bulk.identity is not identity:
            return forbidden()
        return bulk

    def bulks_list(self, identity: _Identity, q: BulksQuery) -> Reply:
        matches = [
            b
            for b in reversed(self.bulk_order)
            if b.identity is identity and (q.status is None or b.status == q.status)
        ]
        page = [b.to_json() for b in matches[q.offset : q.offset + q.limit]]
        return Reply(
            200, {"bulkProcesses": page, "count": len(matches), "responseCount": len(page)}
        )

    def bulk_get(self, identity: _Identity, bulk_id: str) -> Reply:
        bulk = self._bulk(identity, bulk_id)
        if isinstance(bulk, Reply):
            return bulk
        return Reply(200, bulk.to_json(details=True))

    def bulk_operations(self, identity: _Identity, bulk_id: str, q: BulkOpsQuery) -> Reply:
        bulk = self._bulk(identity, bulk_id)
        if isinstance(bulk, Reply):
            return bulk
        matches = [
            op
            for op in bulk.ops
            if (q.sequence is None or op.sequence == q.sequence)
            and (q.status is None or op.status == q.status)
        ]
        page = [op.to_json() for op in matches[q.offset : q.offset + q.limit]]
        return Reply(200, {"operations": page, "count": len(matches), "responseCount": len(page)})

    def bulk_execute(self, identity: _Identity, bulk_id: str, body: Any) -> Reply:
        bulk = self._bulk(identity, bulk_id)
        if isinstance(bulk, Reply):
            return bulk
        problems = Problems()
        obj = check_object(body, problems, "")
        mode = None
        interval = None
        if obj is not None:
            mode = check_enum(obj, "mode", problems, ("ON_FAILURE_STOP", "ON_FAILURE_CONTINUE"))
            interval = check_int(obj, "webhookInterval", problems, minimum=0)
        if problems:
            return bad_request(problems, syntax=True)
        if bulk.status != "SUBMITTED":
            return conflict("INVALID_STATE")
        bulk.status = "RUNNING"
        bulk.mode = mode or "ON_FAILURE_CONTINUE"
        bulk.execution_start = self.now_ms()
        bulk.webhook_interval = interval
        self._bulk_moved(bulk)
        if self.bulk_auto_run:
            self._advance(bulk, len(bulk.ops))
        return Reply(204)

    def bulk_transition(self, identity: _Identity, bulk_id: str, action: str) -> Reply:
        bulk = self._bulk(identity, bulk_id)
        if isinstance(bulk, Reply):
            return bulk
        if action == "pause" and bulk.status == "RUNNING":
            bulk.status = "PAUSED"
        elif action == "resume" and bulk.status == "PAUSED":
            bulk.status = "RUNNING"
            self._bulk_moved(bulk)
            if self.bulk_auto_run:
                self._advance(bulk, len(bulk.ops))
        elif action == "cancel" and bulk.status in ("RUNNING", "PAUSED"):
            for op in bulk.ops[bulk.next_index :]:
                op.status = "CANCELLED"
            bulk.next_index = len(bulk.ops)
            bulk.status = "CANCELLED"
            bulk.execution_finish = self.now_ms()
        else:
            return conflict("INVALID_STATE")
        self._bulk_moved(bulk)
        return Reply(204)

    def _bulk_moved(self, bulk: _Bulk) -> None:
        if self.bulk_listener is not None:
            self.bulk_listener(bulk)

    def advance_bulks(self, count: int) -> int:
        """Run up to ``count`` operations of RUNNING bulks (oldest bulk first)."""
        done = 0
        for bulk in self.bulk_order:
            if done >= count:
                break
            if bulk.status == "RUNNING":
                done += self._advance(bulk, count - done)
        return done

    def _advance(self, bulk: _Bulk, count: int) -> int:
        ran = 0
        while ran < count and bulk.status == "RUNNING" and bulk.next_index < len(bulk.ops):
            op = bulk.ops[bulk.next_index]
            bulk.next_index += 1
            ran += 1
            if bulk.kind == "transfers":
                reply = self.transfer_create(bulk.identity, op.request)
            else:
                assert op.card_id is not None
                reply = self.rules_update(bulk.identity, op.card_id, op.request)
            op.status = "COMPLETED" if reply.status < 300 else "FAILED"
            op.response_payload = "" if reply.body is None else orjson.dumps(reply.body).decode()
            if op.status == "FAILED" and bulk.mode == "ON_FAILURE_STOP":
                for rest in bulk.ops[bulk.next_index :]:
                    rest.status = "CANCELLED"
                bulk.next_index = len(bulk.ops)
            self._bulk_moved(bulk)
        if bulk.status == "RUNNING" and bulk.next_index >= len(bulk.ops):
            completed = sum(1 for op in bulk.ops if op.status == "COMPLETED")
            if completed == len(bulk.ops):
                bulk.status = "COMPLETED"
            elif completed == 0:
                bulk.status = "FAILED"
            else:
                bulk.status = "PARTIALLY_COMPLETED"
            bulk.execution_finish = self.now_ms()
            self._bulk_moved(bulk)
        return ran


def statement_kinds(names: Iterable[str]) -> frozenset[int]:
    """Kind codes for StatementTransactionType names."""
    return frozenset(KIND[n] for n in names)
