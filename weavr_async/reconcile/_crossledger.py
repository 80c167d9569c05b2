"""The cross-ledger checks: an identity's transfers against its statements' TRANSFER entries.

Once every statement of an identity is walked, its transfers are walked once (newest first,
the API's only order) and each COMPLETED transfer is matched against the TRANSFER entries of
the instruments it touches (`TransferMatch`): it must be there, with the same amount, if its
money moved inside the statement's window, up to that statement's snapshot bound (the
transfers walk starts after every statement walk has pinned its snapshot, so it sees every
transfer the statements could show). One walk per identity rather than one per instrument: it
costs fewer requests, and it finds a transfer from either side (the API's `instrumentId`
filter is not documented to match destinations). A TRANSFER entry still unmatched (its
transfer created before the window, executed inside it) is looked up by id, up to
`JobSettings.lookups` per instrument. The phase saves its checkpoint with every match, like a
statement walk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._pagination import Checkpoint
from ..client import IdentitySession
from ..errors import BudgetExhausted, Forbidden, NotFound, WeavrError
from ..models import Identity, InstrumentRef, Transfer
from ._checks import CheckOutcome, Listed
from ._result import describe_error, transient
from ._settings import JobSettings, Window
from ._store import StateStore

__all__ = ["Matching", "TransferMatch", "Walked", "match_transfers", "when"]


def when(transfer: Transfer) -> int:
    """When a transfer moved money: its execution time if the API gave one, else its
    creation time."""
    executed = transfer.execution_timestamp
    if executed is not None and executed.isdigit() and len(executed) <= 19:
        return int(executed)
    return transfer.creation_timestamp


@attrs.define
class TransferMatch:
    """The cross-ledger checks of one instrument: its COMPLETED TRANSFER entries (from
    `StatementChecks.transfers`) against the COMPLETED transfers touching it whose money
    moved inside the statement's window [`lower`, `upper`)."""

    instrument: InstrumentRef
    lower: int | None
    upper: int | None
    entries: dict[str, int]
    expected: int = 0
    matched: int = 0
    missing: Listed = attrs.field(factory=Listed)

    def add(self, transfer: Transfer) -> None:
        """One transfer of the identity's walk (any state, any instrument)."""
        amount = self._signed(transfer)
        if amount is None:
            return
        ts = when(transfer)
        if (self.lower is not None and ts < self.lower) or (
            self.upper is not None and ts >= self.upper
        ):
            return
        self.expected += 1
        found = self.entries.pop(transfer.id, None)
        if found is None:
            self.missing.add({"transfer": transfer.id, "amount": amount, "at": ts})
        elif found != amount:
            self.missing.add(
                {"transfer": transfer.id, "amount": amount, "at": ts, "on_statement": found}
            )
        else:
            self.matched += 1

    def resolve(self, transfer: Transfer) -> None:
        """A transfer looked up by the id of a TRANSFER entry left unmatched (its money moved
        in the window, but it was created before it): it accounts for the entry if it is
        COMPLETED, touches the instrument, and moved the same amount."""
        amount = self._signed(transfer)
        if amount is None or transfer.id not in self.entries:
            return
        self.expected += 1
        found = self.entries.pop(transfer.id)
        if found == amount:
            self.matched += 1
        else:
            self.missing.add(
                {
                    "transfer": transfer.id,
                    "amount": amount,
                    "at": when(transfer),
                    "on_statement": found,
                }
            )

    def _signed(self, transfer: Transfer) -> int | None:
        if transfer.state != "COMPLETED":
            return None
        if transfer.source == self.instrument:
            return -transfer.destination_amount.amount
        if transfer.destination == self.instrument:
            return transfer.destination_amount.amount
        return None

    def unmatched(self) -> list[str]:
        """Transaction ids of the TRANSFER entries no transfer accounted for (yet)."""
        return list(self.entries)

    def outcomes(self) -> dict[str, CheckOutcome]:
        unknown = Listed()
        for tx, amount in self.entries.items():
            unknown.add({"transaction": f"TRANSFER:{tx}", "amount": amount})
        return {
            "transfers_on_statement": self.missing.outcome(
                f"{self.missing.count:,} of {self.expected:,} completed transfers are not on "
                "the statement with their amount",
                f"{self.expected:,} completed transfers, each on the statement",
            ),
            "statement_transfers_known": unknown.outcome(
                f"{unknown.count:,} TRANSFER entries have no completed transfer",
                f"{self.matched:,} TRANSFER entries, each with its transfer",
            ),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "instrument": [self.instrument.type, self.instrument.id],
            "lower": self.lower,
            "upper": self.upper,
            "entries": self.entries,
            "expected": self.expected,
            "matched": self.matched,
            "missing": self.missing.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TransferMatch:
        kind, ident = data["instrument"]
        return cls(
            instrument=InstrumentRef(kind, ident),
            lower=data["lower"],
            upper=data["upper"],
            entries=dict(data["entries"]),
            expected=data["expected"],
            matched=data["matched"],
            missing=Listed.from_json(data["missing"]),
        )


@attrs.define
class Matching:
    """An identity's cross-ledger phase, as saved between runs."""

    keys: list[str]
    matches: dict[str, TransferMatch]
    checkpoint: str | None = None
    finished: bool = False
    error: str | None = None
    transient: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "matches": {k: m.to_json() for k, m in self.matches.items()},
            "checkpoint": self.checkpoint,
            "finished": self.finished,
            "error": self.error,
            "transient": self.transient,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Matching:
        return cls(
            list(data["keys"]),
            {k: TransferMatch.from_json(m) for k, m in data["matches"].items()},
            data["checkpoint"],
            data["finished"],
            data["error"],
            data["transient"],
        )


@attrs.frozen
class Walked:
    """A statement walked to its end: its instrument, its snapshot's upper bound, and its
    COMPLETED TRANSFER entries (transaction id -> signed amount)."""

    key: str
    instrument: InstrumentRef
    upper: int | None
    transfers: Mapping[str, int]


async def match_transfers(
    session: IdentitySession,
    identity: Identity,
    walked: Sequence[Walked],
    window: Window,
    settings: JobSettings,
    store: StateStore | None,
) -> Matching:
    """Match the identity's transfers against the statements `walked`; the matches (resumed
    from `store` if it holds those of the same statements)."""
    keys = sorted(w.key for w in walked)
    saved = store.load_identity(identity) if store is not None else None
    if saved is not None and saved.get("keys") == keys and not saved.get("transient"):
        matching = Matching.from_json(saved)
    else:
        matching = Matching(
            keys,
            {
                w.key: TransferMatch(w.instrument, window.from_ms, w.upper, dict(w.transfers))
                for w in walked
            },
        )
    if matching.finished or not walked:
        return matching

    def save() -> None:
        if store is not None:
            store.save_identity(identity, matching.to_json())

    by_ref: dict[InstrumentRef, TransferMatch] = {
        m.instrument: m for m in matching.matches.values()
    }
    uppers = [m.upper for m in matching.matches.values()]
    bounded = [u for u in uppers if u is not None]
    created_to = max(bounded) if len(bounded) == len(uppers) else None
    checkpoint = None if matching.checkpoint is None else Checkpoint.from_json(matching.checkpoint)
    stream = session.transfers.list(
        created_from=window.from_ms,
        created_to=created_to,
        concurrency=settings.page_concurrency,
        checkpoint=checkpoint,
    )
    saved_at = time.monotonic()
    try:
        async for page in stream.pages():
            for transfer in page.items:
                for side in (transfer.source, transfer.destination):
                    match = by_ref.get(side)
                    if match is not None:
                        match.add(transfer)
            if store is not None and time.monotonic() - saved_at >= settings.checkpoint_every:
                matching.checkpoint = stream.checkpoint.to_json()
                save()
                saved_at = time.monotonic()
        await look_up_leftovers(session, matching, settings)
    except (BudgetExhausted, asyncio.CancelledError):
        matching.checkpoint = stream.checkpoint.to_json()
        save()
        raise
    except WeavrError as exc:
        matching.error = f"transfers: {describe_error(exc)}"
        matching.transient = transient(exc)
    matching.finished = True
    matching.checkpoint = None
    save()
    return matching


async def look_up_leftovers(
    session: IdentitySession, matching: Matching, settings: JobSettings
) -> None:
    """Look up the transfers of TRANSFER entries still unmatched (a few per instrument: many
    unmatched entries say the books are broken, not that the window cut them off)."""
    for match in matching.matches.values():
        leftovers = match.unmatched()
        if not 0 < len(leftovers) <= settings.lookups:
            continue
        for transaction_id in leftovers:
            try:
                transfer = await session.transfers.get(transaction_id)
            except (NotFound, Forbidden):
                continue
            match.resolve(transfer)
