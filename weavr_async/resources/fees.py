"""Custom fees charged to the identity (and the two deprecated per-type variants)."""

from __future__ import annotations

from .._operation import Operation
from ..models import FeeCharge, InstrumentRef
from ._base import Resource
from ._validators import check_instrument, check_text

CHARGE = Operation("chargeFee", "POST", "/fees/charge", idempotency_ref=True)
CORPORATE_CHARGE = Operation(
    "corporateChargeFee",
    "POST",
    "/corporates/fees/charge",
    idempotency_ref=True,
    deprecated=True,
    replacement="fees.charge",
)
CONSUMER_CHARGE = Operation(
    "consumerChargeFee",
    "POST",
    "/consumers/fees/charge",
    idempotency_ref=True,
    deprecated=True,
    replacement="fees.charge",
)


def fee_body(fee_type: str, source: InstrumentRef) -> dict[str, object]:
    return {
        "feeType": check_text(fee_type, "fee_type"),
        "source": check_instrument(source, "source"),
    }


class Fees(Resource):
    async def charge(
        self, fee_type: str, source: InstrumentRef, *, idempotency_ref: str | None = None
    ) -> FeeCharge:
        """Charge a fee configured in the Multi Portal, taken from `source`; at most once,
        however often the call is retried (an `idempotency-ref` goes with every attempt)."""
        return await self._call(
            CHARGE, FeeCharge, body=fee_body(fee_type, source), idempotency_ref=idempotency_ref
        )


class _DeprecatedFees(Resource):
    _operation: Operation

    async def charge_fee(
        self, fee_type: str, source: InstrumentRef, *, idempotency_ref: str | None = None
    ) -> FeeCharge:
        """Deprecated by the API (each call warns): use `fees.charge`."""
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
