"""Transfers: creating them (now or scheduled), moving the money, listing and seeding them."""

from __future__ import annotations

import heapq
import random
import re
from bisect import bisect_left, bisect_right
from typing import Any

import attrs

from ._entities import StoredIdentity, StoredInstrument, StoredTransfer
from ._history import KIND
from ._replies import Reply, conflict, forbidden, invalid, not_found
from ._store import DAY_MS, Store
from ._validation import (
    DIGITS,
    TAG,
    Problems,
    check_amount,
    check_instrument,
    check_object,
    check_string,
)

__all__ = [
    "TRANSACTION_STATES",
    "TransfersQuery",
    "arrive_transfers",
    "create_transfer",
    "get_transfer",
    "list_transfers",
    "run_due_transfers",
    "seed_transfers",
]

TRANSACTION_STATES = (
    "INITIALISED",
    "COMPLETED",
    "REJECTED",
    "FAILED",
    "PENDING",
    "SCHEDULED",
    "CANCELLED",
)
_DESCRIPTION = re.compile(r"""^[a-zA-Z0-9\/\-?:().$_,'+\s#=!"%&*<>;\{@\r\n]*$""")
_TRANSFER_KIND = KIND["TRANSFER"]


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


def create_transfer(store: Store, identity: StoredIdentity, body: Any) -> Reply:
    """POST /transfers: move the money now (COMPLETED), or schedule it (SCHEDULED)."""
    problems = Problems()
    obj = check_object(body, problems, "")
    if obj is None:
        raise invalid(problems)
    profile_id = check_string(obj, "profileId", problems, required=True, pattern=DIGITS)
    tag = check_string(obj, "tag", problems, pattern=TAG, max_len=50)
    source = check_instrument(obj, "source", problems)
    destination = check_instrument(obj, "destination", problems)
    description = check_string(obj, "description", problems, max_len=255, pattern=_DESCRIPTION)
    amount = check_amount(obj, "destinationAmount", problems)
    scheduled = check_string(obj, "scheduledTimestamp", problems, pattern=DIGITS)
    if problems or profile_id is None or source is None or destination is None:
        raise invalid(problems)
    assert amount is not None
    currency, value = amount
    if value <= 0:
        raise conflict("AMOUNT_INVALID")
    src = store.instruments.get(source[1])
    if src is None or src.kind != source[0] or src.identity is not identity:
        raise conflict("SOURCE_NOT_FOUND")
    dst = store.instruments.get(destination[1])
    if dst is None or dst.kind != destination[0] or dst.identity is not identity:
        raise conflict("DESTINATION_NOT_FOUND")
    if src is dst:
        raise conflict("SOURCE_AND_DESTINATION_MUST_BE_DIFFERENT")
    failure = _refusal(src, dst, currency)
    if failure is not None:
        raise conflict(failure)
    now = store.now_ms()
    transfer = StoredTransfer(
        store.new_id(),
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
            raise conflict("SCHEDULED_TIMESTAMP_INVALID")
        transfer.state = "SCHEDULED"
        transfer.scheduled_ms = when
        store.scheduled_count += 1
        heapq.heappush(store.scheduled, (when, store.scheduled_count, transfer))
    else:
        if src.balance < value:
            raise conflict("FUNDS_INSUFFICIENT")
        _move(store, transfer, src, dst)
    store.keep_after(transfer.created_ms)
    _file(identity, [transfer], store)
    return Reply(200, transfer.to_json())


def _refusal(src: StoredInstrument, dst: StoredInstrument, currency: str) -> str | None:
    """Why money cannot move from ``src`` to ``dst`` in ``currency`` (None: it can)."""
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


def _move(
    store: Store, transfer: StoredTransfer, src: StoredInstrument, dst: StoredInstrument
) -> None:
    """A TRANSFER entry on both ledgers (the transfer id as transaction id): COMPLETED."""
    ts = store.stamp(src, dst)
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


def run_due_transfers(store: Store) -> None:
    """Execute scheduled transfers whose time has come (COMPLETED, or FAILED if invalid)."""
    if not store.scheduled:
        return
    now = store.now_ms()
    while store.scheduled and store.scheduled[0][0] <= now:
        _, _, transfer = heapq.heappop(store.scheduled)
        if transfer.state != "SCHEDULED":
            continue
        src = store.instruments[transfer.source[1]]
        dst = store.instruments[transfer.destination[1]]
        if _refusal(src, dst, transfer.currency) is None and src.balance >= transfer.amount:
            _move(store, transfer, src, dst)
        else:
            transfer.state = "FAILED"
            transfer.executed_ms = now


def list_transfers(
    store: Store, identity: StoredIdentity, q: TransfersQuery, arrivals: int
) -> Reply:
    """GET /transfers: newest first, after ``arrivals`` new records; the instrument filter
    matches the source, and must not name another identity's instrument (403)."""
    if q.instrument is not None:
        inst = store.instruments.get(q.instrument[1])
        if inst is not None and inst.identity is not identity:
            raise forbidden()
    if arrivals > 0:
        arrive_transfers(store, identity, arrivals)
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
        matches = [t for t in reversed(items[lo:hi]) if _matches(t, q)]
        count = len(matches)
        page = matches[q.offset : q.offset + q.limit]
    body = [t.to_json() for t in page]
    return Reply(200, {"transfer": body, "count": count, "responseCount": len(body)})


def _matches(t: StoredTransfer, q: TransfersQuery) -> bool:
    if q.profile_id is not None and t.profile_id != q.profile_id:
        return False
    if q.instrument is not None and t.source != q.instrument:
        return False
    if q.states is not None and t.state not in q.states:
        return False
    return q.tag is None or t.tag == q.tag


def get_transfer(store: Store, identity: StoredIdentity, transfer_id: str) -> Reply:
    """GET /transfers/{id}."""
    transfer = store.transfers.get(transfer_id)
    if transfer is None:
        raise not_found("transfer")
    if transfer.identity_id != identity.id:
        raise forbidden()
    return Reply(200, transfer.to_json())


# -- records that never touch a ledger


def seed_transfers(store: Store, identity: StoredIdentity, count: int) -> None:
    """Seed ``count`` past transfer records between the identity's fund-holding instruments."""
    pool = _fund_holders(identity)
    if len(pool) < 2:
        raise ValueError("add_transfers needs two fund-holding instruments of the identity")
    rng = random.Random(f"{store.seed}:transfers:{identity.id}:{len(identity.transfers)}")
    start = store.history_end_ms - 365 * DAY_MS
    gap = max(1, 365 * DAY_MS // max(count, 1))
    states = ("COMPLETED",) * 17 + ("PENDING", "REJECTED", "FAILED")
    tags = (None, None, "payroll", "rent", "ops", "refund")
    new: list[StoredTransfer] = []
    for i in range(count):
        src, dst = rng.sample(pool, 2)
        created = start + i * gap + rng.randrange(gap)
        state = rng.choice(states)
        transfer = StoredTransfer(
            store.new_id(),
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
    _file(identity, new, store)


def arrive_transfers(store: Store, identity: StoredIdentity, count: int) -> None:
    """Create ``count`` new COMPLETED transfer records (records only) at now."""
    pool = _fund_holders(identity)
    if count <= 0 or len(pool) < 2:
        return
    ts = store.now_ms()
    rng = store.rng
    new = []
    for _ in range(count):
        src, dst = rng.sample(pool, 2)
        new.append(
            StoredTransfer(
                store.new_id(),
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
    store.keep_after(ts)
    _file(identity, new, store)


def _fund_holders(identity: StoredIdentity) -> list[StoredInstrument]:
    return [i for i in identity.instruments if not i.is_debit and i.state != "DESTROYED"]


def _file(identity: StoredIdentity, new: list[StoredTransfer], store: Store) -> None:
    """Register transfers by id and in the identity's list, kept in creation order."""
    for t in new:
        store.transfers[t.id] = t
    if new and (not identity.transfer_ts or new[0].created_ms >= identity.transfer_ts[-1]):
        identity.transfers.extend(new)
        identity.transfer_ts.extend(t.created_ms for t in new)
    else:
        for t in new:
            pos = bisect_right(identity.transfer_ts, t.created_ms)
            identity.transfers.insert(pos, t)
            identity.transfer_ts.insert(pos, t.created_ms)
