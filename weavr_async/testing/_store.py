"""The simulator's state: ids, clock, every entity by id, live tokens; and the lookups that
refuse as the API does (404 for what does not exist, 403 for another identity's)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from ._entities import (
    CARDS,
    Misstatement,
    StoredBulk,
    StoredIdentity,
    StoredInstrument,
    StoredTransfer,
    StoredUser,
)
from ._records import HISTORY_END_MS
from ._replies import forbidden, not_found

__all__ = ["DAY_MS", "Store"]

DAY_MS = 24 * 3600 * 1000


class Store:
    """Everything the simulator holds. All ids, tokens and histories derive from ``seed``."""

    def __init__(
        self, seed: int, fee_types: dict[str, int], history_end_ms: int = HISTORY_END_MS
    ) -> None:
        self.seed = seed
        self.history_end_ms = history_end_ms
        self.rng = random.Random(f"weavr-fake:{seed}")
        self._next_id = 100_000_000_000 + self.rng.randrange(1_000_000) * 1_000_000
        self.identities: dict[str, StoredIdentity] = {}
        self.instruments: dict[str, StoredInstrument] = {}
        self.transfers: dict[str, StoredTransfer] = {}
        self.users: dict[str, StoredUser] = {}
        self.bulks: dict[str, StoredBulk] = {}
        self.bulk_order: list[StoredBulk] = []
        self.tokens: dict[str, StoredIdentity] = {}
        self.fee_types = fee_types
        self.revenue_account_id = self.new_id()
        self.bulk_auto_run = True
        # Called with a bulk process each time it moved (webhook deliveries listen here).
        self.bulk_listener: Callable[[StoredBulk], None] | None = None
        # Scheduled transfers by due time: (due ms, sequence, transfer).
        self.scheduled: list[tuple[int, int, StoredTransfer]] = []
        self.scheduled_count = 0
        # Instruments whose statements the API misreports (FakeBackOffice.corrupt).
        self.misstatements: dict[str, Misstatement] = {}
        self._floor = 0

    # -- ids and clock

    def new_id(self, reserve: int = 1) -> str:
        """A fresh numeric id; ``reserve`` > 1 also reserves the following ids."""
        value = self._next_id
        self._next_id += reserve
        return str(value)

    def random_token(self, length: int = 40) -> str:
        """A random-looking (seeded) alphanumeric string."""
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def now_ms(self) -> int:
        """Real epoch ms, but never before the newest recorded entry/transfer + 1."""
        return max(int(time.time() * 1000), self._floor)

    def keep_after(self, ts: int) -> None:
        """Make ``now_ms`` never earlier than ``ts`` (something was recorded then)."""
        self._floor = max(self._floor, ts)

    def stamp(self, *instruments: StoredInstrument) -> int:
        """The time of a new entry on ``instruments``: now, after each one's newest entry."""
        ts = self.now_ms()
        for inst in instruments:
            ts = max(ts, inst.ledger.last_ts + 1)
        self.keep_after(ts)
        return ts

    # -- lookups on behalf of an identity

    def instrument_of(self, identity: StoredIdentity, kind: str, inst_id: str) -> StoredInstrument:
        """The identity's instrument of ``kind``; refused 404 (no such), 403 (another's)."""
        inst = self.instruments.get(inst_id)
        if inst is None or inst.kind != kind:
            raise not_found("managed card" if kind == CARDS else "managed account")
        if inst.identity is not identity:
            raise forbidden()
        return inst

    def card_of(self, identity: StoredIdentity, card_id: str) -> StoredInstrument:
        """The identity's managed card (refused as `instrument_of`)."""
        return self.instrument_of(identity, CARDS, card_id)

    def user_of(self, identity: StoredIdentity, user_id: str) -> StoredUser:
        """The identity's authorised user; refused 404 (no such), 403 (another's)."""
        user = self.users.get(user_id)
        if user is None:
            raise not_found("user")
        if user.identity is not identity:
            raise forbidden()
        return user

    def bulk_of(self, identity: StoredIdentity, bulk_id: str) -> StoredBulk:
        """The identity's bulk process; refused 404 (no such), 403 (another's)."""
        bulk = self.bulks.get(bulk_id)
        if bulk is None:
            raise not_found("bulk process")
        if bulk.identity is not identity:
            raise forbidden()
        return bulk
