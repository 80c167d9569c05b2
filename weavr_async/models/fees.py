"""Custom fees charged to an identity."""

from __future__ import annotations

from typing import Any

import attrs

from ._answered import Answered
from .common import CurrencyAmount, InstrumentRef, TransactionId

__all__ = ["FeeCharge"]


@attrs.define(slots=True)
class FeeCharge(Answered):
    """The transaction a fee charge created.

    `destination` is the JSON value the API sent, as decoded (None when absent): the contract
    requires the field but gives it no schema, so this SDK does not guess one. A charge always
    decodes whatever it holds, so the transaction id of money that moved is never lost to it.
    """

    transaction_id: TransactionId
    profile_id: str
    fee_type: str
    source: InstrumentRef
    available_balance_adjustment: CurrencyAmount
    state: str
    creation_timestamp: int
    destination: Any = None
