"""Transfers between an identity's own instruments."""

from __future__ import annotations

import attrs

from ._answered import Answered
from ._marks import SHARED_STR
from .common import CurrencyAmount, InstrumentRef

__all__ = ["NewTransfer", "Transfer"]


@attrs.define(slots=True)
class Transfer(Answered):
    id: str
    profile_id: str
    source: InstrumentRef
    destination: InstrumentRef
    destination_amount: CurrencyAmount
    state: str = attrs.field(metadata=SHARED_STR)
    creation_timestamp: int
    tag: str | None = None
    description: str | None = None
    scheduled_timestamp: str | None = None
    execution_timestamp: str | None = None
    cancellation_reason: str | None = None


@attrs.define(slots=True, kw_only=True)
class NewTransfer:
    """A transfer to create, on its own or as one item of a bulk submission."""

    profile_id: str
    source: InstrumentRef
    destination: InstrumentRef
    destination_amount: CurrencyAmount
    tag: str | None = None
    description: str | None = None
    scheduled_timestamp: str | None = None
