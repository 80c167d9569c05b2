"""Custom fees charged to an identity."""

from __future__ import annotations

import attrs

from .common import CurrencyAmount, InstrumentRef, TransactionId

__all__ = ["FeeCharge"]


@attrs.define(slots=True)
class FeeCharge:
    """The transaction a fee charge created."""

    transaction_id: TransactionId
    profile_id: str
    fee_type: str
    source: InstrumentRef
    available_balance_adjustment: CurrencyAmount
    state: str
    creation_timestamp: int
    destination: InstrumentRef | None = None
