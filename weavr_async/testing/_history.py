"""Compact per-instrument ledgers and deterministic seeded statement histories.

A ledger keeps one row per statement entry in parallel typed arrays (about 34 bytes per entry),
so million-entry histories stay small; the JSON dicts are built only for the page being served.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left, bisect_right
from typing import Any

__all__ = [
    "FEE_BY_KIND",
    "KIND",
    "PENDING_KINDS",
    "STATEMENT_TYPES",
    "ZERO_ADJUSTMENT_KINDS",
    "Ledger",
]

STATEMENT_TYPES: tuple[str, ...] = (
    "AUTHORISATION",
    "SETTLEMENT",
    "MANUAL_TRANSACTION",
    "TRANSFER",
    "SEND",
    "DEPOSIT",
    "AUTHORISATION_REVERSAL",
    "AUTHORISATION_EXPIRY",
    "AUTHORISATION_DECLINE",
    "AUTHORISATION_MANUAL_CLOSE",
    "MERCHANT_REFUND",
    "MERCHANT_REFUND_REVERSAL",
    "ORIGINAL_CREDIT_TRANSACTION",
    "SETTLEMENT_REVERSAL",
    "ADJUSTMENT",
    "CHARGE_FEE",
    "WITHDRAWAL_RESERVE",
    "WITHDRAWAL_RELEASE",
    "FEE_REVERSAL",
    "OUTGOING_WIRE_TRANSFER",
    "AUTHORISATION_CANCELLATION",
    "SYSTEM_TRANSACTION",
    "OUTGOING_DIRECT_DEBIT_COLLECTION",
    "OUTGOING_DIRECT_DEBIT_REFUND",
    "CORRESPONDENT_BANK_TRANSFER",
)
KIND: dict[str, int] = {name: i for i, name in enumerate(STATEMENT_TYPES)}

# Entries of these kinds record an event without moving funds (both adjustments are 0).
ZERO_ADJUSTMENT_KINDS: frozenset[int] = frozenset(
    KIND[n]
    for n in (
        "AUTHORISATION",
        "AUTHORISATION_REVERSAL",
        "AUTHORISATION_EXPIRY",
        "AUTHORISATION_DECLINE",
    )
)
# Entries of these kinds are served with entryState PENDING; all others are COMPLETED.
PENDING_KINDS: frozenset[int] = frozenset({KIND["AUTHORISATION"]})
# Fee captured on an entry, by kind (included in the entry's balance adjustment).
FEE_BY_KIND: tuple[int, ...] = tuple(
    50 if name == "OUTGOING_WIRE_TRANSFER" else 0 for name in STATEMENT_TYPES
)

_POS, _NEG, _ANY = 1, -1, 0
# (kind, weight, sign, min magnitude, max magnitude) per instrument family.
_ACCOUNT_MIX: tuple[tuple[str, int, int, int, int], ...] = (
    ("DEPOSIT", 16, _POS, 5_000, 120_000),
    ("TRANSFER", 28, _ANY, 500, 80_000),
    ("SETTLEMENT", 22, _NEG, 100, 30_000),
    ("OUTGOING_WIRE_TRANSFER", 8, _NEG, 2_000, 150_000),
    ("CHARGE_FEE", 6, _NEG, 50, 1_500),
    ("SEND", 4, _NEG, 500, 20_000),
    ("MERCHANT_REFUND", 4, _POS, 100, 10_000),
    ("MANUAL_TRANSACTION", 2, _ANY, 100, 5_000),
    ("ADJUSTMENT", 1, _ANY, 10, 2_000),
    ("FEE_REVERSAL", 1, _POS, 50, 1_500),
    ("SYSTEM_TRANSACTION", 1, _POS, 10, 1_000),
)
_CARD_MIX: tuple[tuple[str, int, int, int, int], ...] = (
    ("AUTHORISATION", 20, _NEG, 100, 25_000),
    ("SETTLEMENT", 32, _NEG, 100, 25_000),
    ("TRANSFER", 24, _POS, 2_000, 60_000),
    ("MERCHANT_REFUND", 4, _POS, 100, 10_000),
    ("AUTHORISATION_REVERSAL", 4, _POS, 100, 10_000),
    ("AUTHORISATION_EXPIRY", 1, _POS, 100, 10_000),
    ("AUTHORISATION_DECLINE", 3, _NEG, 100, 25_000),
    ("CHARGE_FEE", 3, _NEG, 50, 800),
    ("ORIGINAL_CREDIT_TRANSACTION", 2, _POS, 500, 20_000),
    ("SETTLEMENT_REVERSAL", 1, _POS, 100, 10_000),
    ("MANUAL_TRANSACTION", 1, _ANY, 100, 3_000),
)
_SPAN_MS = 3 * 365 * 24 * 3600 * 1000
_MERCHANT_KINDS = frozenset(
    KIND[n]
    for n in (
        "AUTHORISATION",
        "SETTLEMENT",
        "MERCHANT_REFUND",
        "AUTHORISATION_REVERSAL",
        "AUTHORISATION_EXPIRY",
        "AUTHORISATION_DECLINE",
        "SETTLEMENT_REVERSAL",
    )
)
_MERCHANTS = (
    ("Corner Bakery", "5462"),
    ("Metro Transit", "4111"),
    ("Cloud Hosting Ltd", "4816"),
    ("Blue Fuel Station", "5541"),
    ("Airline Tickets", "4511"),
    ("Bookshop", "5942"),
    ("Grocer & Sons", "5411"),
    ("Hotel Marina", "7011"),
    ("Office Supplies", "5943"),
    ("Pharmacy Plus", "5912"),
    ("Taxi Co", "4121"),
    ("Streaming Service", "4899"),
    ("Electronics Hub", "5732"),
    ("Cafe Central", "5814"),
    ("Parking Garage", "7523"),
    ("Telecom Bill", "4814"),
)
_COUNTRIES = ("MT", "GB", "FR", "DE", "IT", "ES", "NL", "IE")
_NOTES = ("Balance Adjustment", "Completing Deposit", "Reversal - Manual Transaction")
_FX = (("USD", 10_834), ("GBP", 8_412), ("CHF", 9_377), ("EUR", 9_231))
_VARIANTS = 16


def _build_fields() -> list[list[dict[str, str]]]:
    """Pre-build the shared additionalFields variants for every kind (indexed by txid % 16)."""
    table: list[list[dict[str, str]]] = []
    for kind, name in enumerate(STATEMENT_TYPES):
        variants: list[dict[str, str]] = []
        for v in range(_VARIANTS):
            if kind in _MERCHANT_KINDS:
                merchant, mcc = _MERCHANTS[v]
                fields = {
                    "merchantName": merchant,
                    "merchantCategoryCode": mcc,
                    "merchantTerminalCountry": _COUNTRIES[v % len(_COUNTRIES)],
                    "authorisationCode": f"{(v * 7919 + 1234) % 1_000_000:06d}",
                }
            elif name in ("TRANSFER", "SEND"):
                fields = {
                    "sourceInstrumentType": "managed_accounts",
                    "sourceInstrumentId": str(110_000_000_000_000_000 + v * 97),
                    "destinationInstrumentType": "managed_cards" if v % 2 else "managed_accounts",
                    "destinationInstrumentId": str(110_000_000_000_100_000 + v * 89),
                }
            elif name == "DEPOSIT":
                fields = {
                    "sender": f"Counterparty {v}",
                    "senderIban": f"MT{v:02d}WEAV0000000000000000{v:04d}",
                    "senderReference": f"INV-{1000 + v}",
                }
            elif name == "OUTGOING_WIRE_TRANSFER":
                fields = {
                    "beneficiaryName": f"Supplier {v}",
                    "beneficiaryAccount": f"DE{v:02d}5001051754073249{v:02d}",
                    "description": f"Payment {2000 + v}",
                }
            elif name == "CHARGE_FEE":
                fields = {"chargeFeeType": ("MONTHLY_FEE", "CUSTOM_FEE")[v % 2]}
            elif name in ("MANUAL_TRANSACTION", "ADJUSTMENT"):
                fields = {"note": _NOTES[v % len(_NOTES)]}
            else:
                fields = {"systemTransactionType": name}
            variants.append(fields)
        table.append(variants)
    return table


_FIELDS = _build_fields()


def _mix_tables(
    mix: tuple[tuple[str, int, int, int, int], ...],
) -> tuple[list[int], list[int], list[tuple[int, int, int]]]:
    kinds = [KIND[m[0]] for m in mix]
    weights = [m[1] for m in mix]
    specs = [(m[2], m[3], m[4] - m[3] + 1) for m in mix]
    return kinds, weights, specs


_ACCOUNT_TABLES = _mix_tables(_ACCOUNT_MIX)
_CARD_TABLES = _mix_tables(_CARD_MIX)


class Ledger:
    """Chronological statement entries of one instrument, stored as parallel typed arrays.

    ``bal`` holds the balance after each entry (available == actual), so the start and end
    balances of any timestamp window are O(1) and windows are found with bisect on ``ts``.
    """

    __slots__ = (
        "_filters",
        "_specs",
        "amt",
        "bal",
        "currency",
        "extra",
        "fx",
        "kinds",
        "rng",
        "ts",
        "txid",
    )

    def __init__(self, currency: str, rng: random.Random, *, is_card: bool) -> None:
        self.currency = currency
        self.rng = rng
        self.ts: array[int] = array("q")
        self.amt: array[int] = array("q")
        self.bal: array[int] = array("q")
        self.txid: array[int] = array("q")
        self.kinds = bytearray()
        self.fx = bytearray()
        self.extra: dict[int, dict[str, str]] = {}
        self._filters: dict[frozenset[int], tuple[int, array[int]]] = {}
        self._specs = _CARD_TABLES if is_card else _ACCOUNT_TABLES

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def balance(self) -> int:
        """Current balance (after the newest entry; 0 for an empty ledger)."""
        return self.bal[-1] if self.bal else 0

    @property
    def last_ts(self) -> int:
        """Processed timestamp of the newest entry, or 0 when empty."""
        return self.ts[-1] if self.ts else 0

    @staticmethod
    def adjustment_of(kind: int, amount: int) -> int:
        """Balance adjustment an entry of ``kind`` with transaction ``amount`` applies."""
        if kind in ZERO_ADJUSTMENT_KINDS:
            return 0
        return amount - FEE_BY_KIND[kind]

    def append(
        self,
        ts: int,
        kind: int,
        amount: int,
        txid: int,
        extra: dict[str, str] | None = None,
        *,
        forex: bool = False,
    ) -> int:
        """Append one entry (``ts`` must not go back in time) and return its index."""
        if self.ts and ts < self.ts[-1]:
            raise ValueError("ledger entries must be appended in chronological order")
        balance = self.balance + self.adjustment_of(kind, amount)
        if balance < 0:
            raise ValueError("entry would make the balance negative")
        self.ts.append(ts)
        self.amt.append(amount)
        self.bal.append(balance)
        self.txid.append(txid)
        self.kinds.append(kind)
        self.fx.append(1 if forex else 0)
        index = len(self.ts) - 1
        if extra:
            self.extra[index] = extra
        return index

    def seed(self, count: int, end_ms: int, txid_base: int) -> None:
        """Generate ``count`` entries spread over ~3 years before ``end_ms`` (deterministic)."""
        if count <= 0:
            return
        rng = self.rng
        kinds_tab, weights, specs = self._specs
        picks = rng.choices(range(len(kinds_tab)), weights, k=count)
        raw: array[int] = array("I")
        raw.frombytes(rng.randbytes(4 * count))
        jit: array[int] = array("I")
        jit.frombytes(rng.randbytes(4 * count))
        gap = max(1, _SPAN_MS // count)
        start = end_ms - gap * count
        credit_kind = KIND["TRANSFER"] if kinds_tab is _CARD_TABLES[0] else KIND["DEPOSIT"]
        merchant = _MERCHANT_KINDS
        zero = ZERO_ADJUSTMENT_KINDS
        fees = FEE_BY_KIND
        zeros = bytes(8 * count)
        out_ts: array[int] = array("q", zeros)
        out_amt: array[int] = array("q", zeros)
        out_bal: array[int] = array("q", zeros)
        out_kind = bytearray(count)
        out_fx = bytearray(count)
        bal = self.balance
        prev_ts = self.last_ts
        for i in range(count):
            p = picks[i]
            r = raw[i]
            j = jit[i]
            kind = kinds_tab[p]
            sign, lo, span = specs[p]
            mag = lo + r % span
            if i == 0 and bal == 0:
                kind = credit_kind
                amount = 50_000 + r % 500_000
            elif kind in zero:
                amount = mag if sign > 0 else -mag
            else:
                if sign == 0:
                    sign = 1 if r & 0x80000000 else -1
                amount = sign * mag
                if bal + amount - fees[kind] < 0:
                    kind = credit_kind
                    amount = mag * 4
            ts = start + i * gap + j % gap
            if j & 0xF000 == 0 and i > 0:
                ts = prev_ts  # an occasional same-millisecond pair, as real ledgers have
            elif ts < prev_ts:
                ts = prev_ts
            prev_ts = ts
            if kind not in zero:
                bal += amount - fees[kind]
            out_ts[i] = ts
            out_amt[i] = amount
            out_bal[i] = bal
            out_kind[i] = kind
            if kind in merchant and (j >> 20) % 10 < 3:
                out_fx[i] = 1
        self.ts.extend(out_ts)
        self.amt.extend(out_amt)
        self.bal.extend(out_bal)
        self.txid.extend(range(txid_base, txid_base + count))
        self.kinds.extend(out_kind)
        self.fx.extend(out_fx)
        self._refresh_filters()

    def add_random(self, count: int, ts: int, next_txid: int) -> None:
        """Append ``count`` random balance-safe entries at ``ts`` with ids from ``next_txid``."""
        rng = self.rng
        kinds_tab, weights, specs = self._specs
        credit_kind = KIND["TRANSFER"] if kinds_tab is _CARD_TABLES[0] else KIND["DEPOSIT"]
        for n in range(count):
            p = rng.choices(range(len(kinds_tab)), weights)[0]
            kind = kinds_tab[p]
            sign, lo, span = specs[p]
            mag = lo + rng.randrange(span)
            if sign == 0:
                sign = rng.choice((1, -1))
            amount = sign * mag
            if self.balance + self.adjustment_of(kind, amount) < 0:
                kind, amount = credit_kind, mag * 4
            forex = kind in _MERCHANT_KINDS and rng.random() < 0.3
            self.append(ts, kind, amount, next_txid + n, forex=forex)
        self._refresh_filters()

    def insert_backdated(self, ts: int, amount: int, txid: int) -> int:
        """Insert one credit at its place in time (a late posting with an old timestamp, as
        when a bank back-values a deposit); the balances of every later entry shift."""
        if amount <= 0:
            raise ValueError("a back-dated entry is a credit: amount must be > 0")
        kind = KIND["TRANSFER"] if self._specs is _CARD_TABLES else KIND["DEPOSIT"]
        index = bisect_right(self.ts, ts)
        before = self.bal[index - 1] if index else 0
        self.ts.insert(index, ts)
        self.amt.insert(index, amount)
        self.bal.insert(index, before + amount)
        self.txid.insert(index, txid)
        self.kinds.insert(index, kind)
        self.fx.insert(index, 0)
        for later in range(index + 1, len(self.bal)):
            self.bal[later] += amount
        self.extra = {(k + 1 if k >= index else k): v for k, v in self.extra.items()}
        self._refresh_filters()
        return index

    def window(self, from_ts: int | None, to_ts: int | None) -> tuple[int, int]:
        """Index range [lo, hi) of entries with from_ts <= processedTimestamp < to_ts."""
        lo = 0 if from_ts is None else bisect_left(self.ts, from_ts)
        hi = len(self.ts) if to_ts is None else bisect_left(self.ts, to_ts)
        return lo, max(lo, hi)

    def balance_before(self, index: int) -> int:
        """Balance before entry ``index`` (the balance after the previous entry)."""
        return self.bal[index - 1] if index > 0 else 0

    def positions(self, kinds: frozenset[int]) -> array[int]:
        """Sorted indexes of the entries whose kind is in ``kinds`` (cached, kept up to date)."""
        cached = self._filters.get(kinds)
        n = len(self.kinds)
        if cached is not None and cached[0] == n:
            return cached[1]
        if cached is None:
            if len(self._filters) >= 32:
                self._filters.clear()
            built, pos = 0, array("l")
        else:
            built, pos = cached
        src = self.kinds
        if len(kinds) == 1:
            (k,) = kinds
            find = src.find
            i = find(k, built)
            while i != -1:
                pos.append(i)
                i = find(k, i + 1)
        else:
            pos.extend(i for i in range(built, n) if src[i] in kinds)
        self._filters[kinds] = (n, pos)
        return pos

    def _refresh_filters(self) -> None:
        for key in list(self._filters):
            self.positions(key)

    def entry(self, i: int, with_balances: bool = True) -> dict[str, Any]:
        """Build the StatementEntry JSON dict for entry ``i``."""
        cur = self.currency
        kind = self.kinds[i]
        amount = self.amt[i]
        txid = self.txid[i]
        fee = FEE_BY_KIND[kind]
        adj = {"currency": cur, "amount": 0 if kind in ZERO_ADJUSTMENT_KINDS else amount - fee}
        extra = self.extra.get(i)
        entry: dict[str, Any] = {
            "transactionId": {"type": STATEMENT_TYPES[kind], "id": str(txid)},
            "entryState": "PENDING" if kind in PENDING_KINDS else "COMPLETED",
            "transactionAmount": {"currency": cur, "amount": amount},
            "availableBalanceAdjustment": adj,
            "actualBalanceAdjustment": adj,
        }
        if with_balances:
            bal = {"currency": cur, "amount": self.bal[i]}
            entry["balanceAfter"] = bal
            entry["availableBalanceAfter"] = bal
            entry["actualBalanceAfter"] = bal
        entry["transactionFee"] = {"currency": cur, "amount": fee}
        entry["processedTimestamp"] = self.ts[i]
        entry["additionalFields"] = extra if extra is not None else _FIELDS[kind][txid % _VARIANTS]
        if self.fx[i]:
            fx_cur, rate = _FX[txid % 4]
            if fx_cur == cur:
                fx_cur, rate = _FX[(txid + 1) % 4]
            original = amount * rate // 10_000
            entry["originalAmount"] = {"currency": fx_cur, "amount": original}
            entry["forexRate"] = {"value": rate, "scale": 4}
            entry["sourceAmount"] = {"currency": fx_cur, "amount": original}
        return entry
