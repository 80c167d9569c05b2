"""Books that hold, and books that do not, on purpose: for testing reconciliations.

Seeded histories have TRANSFER entries but no transfers behind them (and ``add_transfers``
records never reach a ledger), so the cross-ledger checks of `weavr_async.reconcile` cannot
hold on them. `record_statement_transfers` gives each such entry its COMPLETED transfer.

`corrupt` plants one fault in an instrument's books, chosen so that exactly one check of
`weavr_async.reconcile` fails for it (`BOOK_FAULTS` maps each fault to that check).
"""

from __future__ import annotations

import heapq
from typing import Literal

from ._entities import Misstatement, StoredIdentity, StoredInstrument, StoredTransfer
from ._history import FEE_BY_KIND, KIND, Ledger
from ._store import Store

__all__ = ["BOOK_FAULTS", "BookFault", "corrupt", "record_statement_transfers"]

BookFault = Literal[
    "break_chain",
    "misstate_end_balance",
    "duplicate_entry",
    "drop_entry",
    "lose_transfer",
    "forget_transfer",
]
BOOK_FAULTS: dict[str, str] = {
    "break_chain": "balance_chain",
    "misstate_end_balance": "balance_equation",
    "duplicate_entry": "unique_transactions",
    "drop_entry": "count",
    "lose_transfer": "transfers_on_statement",
    "forget_transfer": "statement_transfers_known",
}
"""Each fault `corrupt` plants, and the one reconciliation check it makes fail."""

_TRANSFER = KIND["TRANSFER"]
_OUTSIDE_NOTE = "Transfer with an account outside the simulated programme"


def record_statement_transfers(store: Store, inst: StoredInstrument) -> int:
    """File a COMPLETED transfer for every TRANSFER entry of `inst` that has none: the
    entry's transaction id, amount and time, the other side an account outside the programme
    (its id answers 404). Returns how many were filed."""
    ledger = inst.ledger
    identity = inst.identity
    outside = ("managed_accounts", store.new_id())
    new: list[StoredTransfer] = []
    for i in ledger.positions(frozenset({_TRANSFER})):
        txid = str(ledger.txid[i])
        if txid in store.transfers:
            continue
        amount = ledger.amt[i]
        ts = ledger.ts[i]
        here = (inst.kind, inst.id)
        source, destination = (here, outside) if amount < 0 else (outside, here)
        transfer = StoredTransfer(
            txid,
            identity.id,
            identity.transfer_profile,
            source,
            destination,
            inst.currency,
            abs(amount),
            "COMPLETED",
            ts,
            description=_OUTSIDE_NOTE,
            executed_ms=ts,
        )
        store.transfers[txid] = transfer
        new.append(transfer)
    _file_sorted(identity, new)
    return len(new)


def corrupt(store: Store, inst: StoredInstrument, fault: str) -> str:
    """Plant `fault` (one of `BOOK_FAULTS`) in the books of `inst`, near the middle of its
    history (`drop_entry`: its newest entry); returns the transaction or transfer id it
    concerns ("" for a misstated end balance). Raises ValueError when the instrument's books
    cannot carry that fault."""
    if fault not in BOOK_FAULTS:
        raise ValueError(f"unknown book fault {fault!r}; choose from {', '.join(BOOK_FAULTS)}")
    ledger = inst.ledger
    if fault in ("break_chain", "misstate_end_balance", "duplicate_entry") and inst.is_debit:
        raise ValueError(f"{fault}: a DEBIT_MODE card's statement carries no balances")
    if fault == "lose_transfer":
        return _lose_transfer(store, inst)
    if fault == "misstate_end_balance":
        _misstatement(store, inst).end_balance += 1
        return ""
    if len(ledger) < 3:
        raise ValueError(f"{fault}: needs an instrument with at least 3 statement entries")
    if fault == "break_chain":
        # One balance-after off by one: the chain breaks into and out of that entry, while
        # the window's start and end balances (and every adjustment) stay true.
        middle = len(ledger) // 2
        ledger.bal[middle] += 1
        return str(ledger.txid[middle])
    if fault == "duplicate_entry":
        return _duplicate_entry(ledger)
    if fault == "drop_entry":
        # The newest entry: a walk meets it first, when it pins its snapshot.
        _misstatement(store, inst).hidden.add(ledger.txid[-1])
        return str(ledger.txid[-1])
    return _forget_transfer(store, inst)


def _misstatement(store: Store, inst: StoredInstrument) -> Misstatement:
    return store.misstatements.setdefault(inst.id, Misstatement())


def _duplicate_entry(ledger: Ledger) -> str:
    """A second entry for a transaction already on the statement, at the same time and in the
    same state, that moves no money (so the balances still hold): only uniqueness breaks."""
    middle = len(ledger) // 2
    candidates = [*range(middle, len(ledger)), *range(middle - 1, -1, -1)]
    kinds = ledger.kinds
    index = next(
        (i for i in candidates if kinds[i] != _TRANSFER and FEE_BY_KIND[kinds[i]] == 0), None
    )
    if index is None:
        raise ValueError("duplicate_entry: no entry without a fee outside transfers")
    at = index + 1
    ledger.ts.insert(at, ledger.ts[index])
    ledger.amt.insert(at, 0)
    ledger.bal.insert(at, ledger.bal[index])
    ledger.txid.insert(at, ledger.txid[index])
    ledger.kinds.insert(at, ledger.kinds[index])
    ledger.fx.insert(at, 0)
    ledger.extra = {(k + 1 if k >= at else k): v for k, v in ledger.extra.items()}
    # The per-kind position caches assume entries are only ever appended: rebuild them.
    ledger._filters.clear()
    return str(ledger.txid[index])


def _lose_transfer(store: Store, inst: StoredInstrument) -> str:
    """A COMPLETED transfer into `inst`, inside its history, that never reached its
    statement."""
    ledger = inst.ledger
    if not len(ledger):
        raise ValueError("lose_transfer: needs an instrument with statement entries")
    ts = ledger.ts[len(ledger) // 2]
    identity = inst.identity
    transfer = StoredTransfer(
        store.new_id(),
        identity.id,
        identity.transfer_profile,
        ("managed_accounts", store.new_id()),
        (inst.kind, inst.id),
        inst.currency,
        1_234,
        "COMPLETED",
        ts,
        description=_OUTSIDE_NOTE,
        executed_ms=ts,
    )
    store.transfers[transfer.id] = transfer
    _file_sorted(identity, [transfer])
    return transfer.id


def _forget_transfer(store: Store, inst: StoredInstrument) -> str:
    """Delete the transfer behind one TRANSFER entry of `inst`: the entry stays."""
    ledger = inst.ledger
    positions = ledger.positions(frozenset({_TRANSFER}))
    middle = len(positions) // 2
    for i in [*positions[middle:], *positions[:middle]]:
        txid = str(ledger.txid[i])
        transfer = store.transfers.get(txid)
        if transfer is not None and transfer.state == "COMPLETED":
            del store.transfers[txid]
            identity = inst.identity
            keep = [t for t in identity.transfers if t is not transfer]
            identity.transfers[:] = keep
            identity.transfer_ts[:] = [t.created_ms for t in keep]
            return txid
    raise ValueError(
        "forget_transfer: no TRANSFER entry of this instrument has its transfer "
        "(call record_statement_transfers first)"
    )


def _file_sorted(identity: StoredIdentity, new: list[StoredTransfer]) -> None:
    """Merge transfers (sorted by creation) into the identity's, keeping creation order
    (ties: the ones already there first)."""
    if not new:
        return
    merged = list(heapq.merge(identity.transfers, new, key=lambda t: t.created_ms))
    identity.transfers[:] = merged
    identity.transfer_ts[:] = [t.created_ms for t in merged]
