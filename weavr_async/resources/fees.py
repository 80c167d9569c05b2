"""Custom fees charged to the identity (and the two deprecated per-type variants)."""

from __future__ import annotations

import warnings

from .._operation import Operation
from ..models import FeeCharge, InstrumentRef
from . import _base as v

CHARGE = Operation("chargeFee", "POST", "/fees/charge", idempotency_ref=True)
CORPORATE_CHARGE = Operation(
    "corporateChargeFee", "POST", "/corporates/fees/charge", idempotency_ref=True, deprecated=True
)
CONSUMER_CHARGE = Operation(
    "consumerChargeFee", "POST", "/consumers/fees/charge", idempotency_ref=True, deprecated=True
)


def fee_body(fee_type: str, source: InstrumentRef) -> dict[str, object]:
    return {"feeType": v.text(fee_type, "fee_type"), "source": v.instrument(source, "source")}


class Fees(v.Resource):
    async def charge(
        self, fee_type: str, source: InstrumentRef, *, idempotency_ref: str | None = None
    ) -> FeeCharge:
        """Charge a fee configured in the Multi Portal, taken from `source`; at most once,
        however often the call is retried (an `idempotency-ref` goes with every attempt)."""
        return await self._call(
            CHARGE, FeeCharge, body=fee_body(fee_type, source), idempotency_ref=idempotency_ref
        )


class _DeprecatedFees(v.Resource):
    _operation: Operation
    _replacement = "fees.charge"

    async def charge_fee(
        self, fee_type: str, source: InstrumentRef, *, idempotency_ref: str | None = None
    ) -> FeeCharge:
        warnings.warn(
            f"{self._operation.operation_id} is deprecated by the API; use {self._replacement}",
            DeprecationWarning,
            stacklevel=2,
        )
        return await self._call(
            self._operation,
            FeeCharge,
            body=fee_body(fee_type, source),
            idempotency_ref=idempotency_ref,
        )


class Corporates(_DeprecatedFees):
    """Deprecated corporate-only operations."""

    _operation = CORPORATE_CHARGE


class Consumers(_DeprecatedFees):
    """Deprecated consumer-only operations."""

    _operation = CONSUMER_CHARGE
