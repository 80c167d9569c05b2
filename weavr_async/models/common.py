"""Value types shared across the API: money, identities, instrument references, ids."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import attrs

from ._marks import SHARED_STR

__all__ = [
    "CurrencyAmount",
    "Identity",
    "IdentityType",
    "InstrumentRef",
    "InstrumentType",
    "ScaledAmount",
    "Secret",
    "TransactionId",
    "TransactionType",
]

IdentityType = Literal["CORPORATE", "CONSUMER"]
InstrumentType = Literal["managed_accounts", "managed_cards"]


@attrs.define(slots=True, frozen=True)
class CurrencyAmount:
    """Money in minor units (1000 EUR = EUR 10.00): never a float.

    Frozen (and hashable), so that equal amounts can be one instance: a statement entry
    carries up to ten amounts, most of them repeated, and a decoded page holds each distinct
    amount once (`_shared.py`; measured in benchmarks/bench_models.py and bench_memory.py).
    `attrs.evolve(amount, amount=...)` makes a changed copy.
    """

    currency: str
    amount: int

    def __str__(self) -> str:
        return f"{self.currency} {self.amount}"


@attrs.define(slots=True, frozen=True)
class Identity:
    """A corporate or consumer identity on whose behalf the back office acts."""

    type: IdentityType
    id: str

    @classmethod
    def corporate(cls, identity_id: str) -> Identity:
        return cls("CORPORATE", identity_id)

    @classmethod
    def consumer(cls, identity_id: str) -> Identity:
        return cls("CONSUMER", identity_id)


@attrs.define(slots=True, frozen=True)
class InstrumentRef:
    """A managed account or managed card, by id (the API's `InstrumentId`)."""

    type: InstrumentType
    id: str

    @classmethod
    def managed_account(cls, account_id: str) -> InstrumentRef:
        return cls("managed_accounts", account_id)

    @classmethod
    def managed_card(cls, card_id: str) -> InstrumentRef:
        return cls("managed_cards", card_id)


@attrs.define(slots=True)
class ScaledAmount:
    """A decimal as value * 10**-scale (the API's forex rates)."""

    value: int | None = None
    scale: int | None = None


@attrs.define(slots=True)
class TransactionId:
    """The transaction an entry belongs to. `type` is kept as sent, even if this SDK does not
    know it yet (see `TransactionType` for the known ones)."""

    type: str = attrs.field(metadata=SHARED_STR)
    id: str


class TransactionType(StrEnum):
    """Known transaction types; model fields hold plain strings so unknown ones pass through."""

    AUTHORISATION = "AUTHORISATION"
    SETTLEMENT = "SETTLEMENT"
    MANUAL_TRANSACTION = "MANUAL_TRANSACTION"
    TRANSFER = "TRANSFER"
    SEND = "SEND"
    DEPOSIT = "DEPOSIT"
    AUTHORISATION_REVERSAL = "AUTHORISATION_REVERSAL"
    AUTHORISATION_EXPIRY = "AUTHORISATION_EXPIRY"
    AUTHORISATION_DECLINE = "AUTHORISATION_DECLINE"
    AUTHORISATION_MANUAL_CLOSE = "AUTHORISATION_MANUAL_CLOSE"
    MERCHANT_REFUND = "MERCHANT_REFUND"
    MERCHANT_REFUND_REVERSAL = "MERCHANT_REFUND_REVERSAL"
    ORIGINAL_CREDIT_TRANSACTION = "ORIGINAL_CREDIT_TRANSACTION"
    SETTLEMENT_REVERSAL = "SETTLEMENT_REVERSAL"
    ADJUSTMENT = "ADJUSTMENT"
    CHARGE_FEE = "CHARGE_FEE"
    WITHDRAWAL_RESERVE = "WITHDRAWAL_RESERVE"
    WITHDRAWAL_RELEASE = "WITHDRAWAL_RELEASE"
    FEE_REVERSAL = "FEE_REVERSAL"
    OUTGOING_WIRE_TRANSFER = "OUTGOING_WIRE_TRANSFER"
    AUTHORISATION_CANCELLATION = "AUTHORISATION_CANCELLATION"
    SYSTEM_TRANSACTION = "SYSTEM_TRANSACTION"
    OUTGOING_DIRECT_DEBIT_COLLECTION = "OUTGOING_DIRECT_DEBIT_COLLECTION"
    OUTGOING_DIRECT_DEBIT_REFUND = "OUTGOING_DIRECT_DEBIT_REFUND"
    LINKED_ACCOUNT_VERIFICATION_TRANSFER = "LINKED_ACCOUNT_VERIFICATION_TRANSFER"
    INCOMING_WIRE_TRANSFER = "INCOMING_WIRE_TRANSFER"
    FUNDING = "FUNDING"
    TEST_FUNDING = "TEST_FUNDING"
    CORRESPONDENT_BANK_TRANSFER = "CORRESPONDENT_BANK_TRANSFER"


STATEMENT_TRANSACTION_TYPES: frozenset[str] = frozenset(
    {
        "AUTHORISATION", "SETTLEMENT", "MANUAL_TRANSACTION", "TRANSFER", "SEND", "DEPOSIT",
        "AUTHORISATION_REVERSAL", "AUTHORISATION_EXPIRY", "AUTHORISATION_DECLINE",
        "AUTHORISATION_MANUAL_CLOSE", "MERCHANT_REFUND", "MERCHANT_REFUND_REVERSAL",
        "ORIGINAL_CREDIT_TRANSACTION", "SETTLEMENT_REVERSAL", "ADJUSTMENT", "CHARGE_FEE",
        "WITHDRAWAL_RESERVE", "WITHDRAWAL_RELEASE", "FEE_REVERSAL", "OUTGOING_WIRE_TRANSFER",
        "AUTHORISATION_CANCELLATION", "SYSTEM_TRANSACTION", "OUTGOING_DIRECT_DEBIT_COLLECTION",
        "OUTGOING_DIRECT_DEBIT_REFUND", "CORRESPONDENT_BANK_TRANSFER",
    }
)  # fmt: skip
"""The values the statement endpoints accept in their `transactionType` filter."""

TRANSACTION_STATES: frozenset[str] = frozenset(
    {"INITIALISED", "COMPLETED", "REJECTED", "FAILED", "PENDING", "SCHEDULED", "CANCELLED"}
)


class Secret:
    """A credential (API key, access token) that never shows itself in reprs, logs or
    tracebacks; `reveal()` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")
