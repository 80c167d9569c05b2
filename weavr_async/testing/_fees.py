"""Fee charging: a CHARGE_FEE entry on the source, of the amount its fee type is worth."""

from __future__ import annotations

from typing import Any

from ._entities import ACCOUNTS, StoredIdentity
from ._history import KIND
from ._replies import Reply, conflict, invalid
from ._store import Store
from ._validation import Problems, check_instrument, check_object, check_string

__all__ = ["charge_fee"]

_FEE_KIND = KIND["CHARGE_FEE"]


def charge_fee(store: Store, identity: StoredIdentity, body: Any) -> Reply:
    """Charge ``feeType`` (one of ``store.fee_types``) to the identity's ``source``."""
    problems = Problems()
    obj = check_object(body, problems, "")
    if obj is None:
        raise invalid(problems)
    fee_type = check_string(obj, "feeType", problems, required=True, min_len=1)
    source = check_instrument(obj, "source", problems)
    if problems or fee_type is None or source is None:
        raise invalid(problems)
    if fee_type not in store.fee_types:
        raise conflict("UNRESOLVED_FEE_TYPE")
    fee = store.fee_types[fee_type]
    inst = store.instruments.get(source[1])
    if inst is None or inst.kind != source[0]:
        raise conflict("UNRESOLVED_INSTRUMENT")
    if inst.identity is not identity:
        raise conflict("IDENTITY_NOT_OWNER_OF_INSTRUMENT")
    if inst.is_debit or inst.state == "DESTROYED":
        raise conflict("UNRESOLVED_INSTRUMENT")
    if fee <= 0:
        raise conflict("FEE_AMOUNT_NOT_SET")
    if inst.balance < fee:
        raise conflict("FUNDS_INSUFFICIENT")
    ts = store.stamp(inst)
    txid = store.new_id()
    inst.ledger.append(ts, _FEE_KIND, -fee, int(txid), {"chargeFeeType": fee_type})
    return Reply(
        200,
        {
            "transactionId": {"type": "CHARGE_FEE", "id": txid},
            "profileId": inst.profile_id,
            "feeType": fee_type,
            "source": inst.ref(),
            "destination": {"type": ACCOUNTS, "id": store.revenue_account_id},
            "availableBalanceAdjustment": {"currency": inst.currency, "amount": -fee},
            "state": "COMPLETED",
            "creationTimestamp": ts,
        },
    )
