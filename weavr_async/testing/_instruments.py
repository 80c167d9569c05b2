"""Managed accounts and cards: seeding them, their JSON, new entries, and the card actions."""

from __future__ import annotations

import random
import re
import time
from typing import Any

import orjson

from ._entities import ACCOUNTS, CARDS, StoredIdentity, StoredInstrument
from ._history import Ledger
from ._replies import Reply, conflict, forbidden, invalid
from ._store import DAY_MS, Store
from ._validation import Problems, check_enum, check_object

__all__ = [
    "account_body",
    "add_account",
    "add_card",
    "block_card",
    "card_body",
    "get_instrument",
    "ledger_entries",
    "post_transactions",
    "remove_card",
    "set_renewal_type",
    "unblock_card",
]

_CURRENCY = re.compile(r"^[A-Z]{3}$")


# -- seeding


def _new_instrument(
    store: Store, identity: StoredIdentity, kind: str, currency: str, history: int, name: str | None
) -> StoredInstrument:
    if not _CURRENCY.match(currency):
        raise ValueError("currency must be a 3-letter ISO code")
    if history < 0:
        raise ValueError("history must be >= 0")
    inst_id = store.new_id()
    ledger = Ledger(currency, random.Random(f"{store.seed}:{inst_id}"), is_card=kind == CARDS)
    # Instruments are created a little before their first seeded entry.
    end = store.history_end_ms
    created = end - 3 * 365 * DAY_MS - 30 * DAY_MS if history else end
    profile = identity.account_profile if kind == ACCOUNTS else identity.card_profile
    label = "Account" if kind == ACCOUNTS else "Card"
    inst = StoredInstrument(
        inst_id,
        kind,
        identity,
        currency,
        ledger,
        profile,
        created,
        name or f"{label} {sum(1 for i in identity.instruments if i.kind == kind) + 1}",
    )
    if history:
        ledger.seed(history, store.history_end_ms, int(store.new_id(reserve=history)))
        store.keep_after(ledger.last_ts + 1)
    identity.instruments.append(inst)
    store.instruments[inst_id] = inst
    return inst


def add_account(
    store: Store, identity: StoredIdentity, currency: str, history: int, name: str | None
) -> StoredInstrument:
    """A managed account with ``history`` seeded entries."""
    return _new_instrument(store, identity, ACCOUNTS, currency, history, name)


def add_card(
    store: Store,
    identity: StoredIdentity,
    currency: str,
    history: int,
    mode: str,
    parent: StoredInstrument | None,
    name: str | None,
) -> StoredInstrument:
    """A PREPAID_MODE card, or a DEBIT_MODE card (in its parent's currency) under ``parent``."""
    if mode not in ("PREPAID_MODE", "DEBIT_MODE"):
        raise ValueError("mode must be PREPAID_MODE or DEBIT_MODE")
    if mode == "PREPAID_MODE" and parent is not None:
        raise ValueError("parent_account is only for DEBIT_MODE cards")
    if mode == "DEBIT_MODE":
        if parent is None or parent.kind != ACCOUNTS:
            raise ValueError("a DEBIT_MODE card needs parent_account (a managed account)")
        if parent.identity is not identity:
            raise ValueError("parent_account belongs to another identity")
        currency = parent.currency
    inst = _new_instrument(store, identity, CARDS, currency, history, name)
    inst.mode = mode
    inst.parent = parent if mode == "DEBIT_MODE" else None
    rng = inst.ledger.rng
    start = store.history_end_ms - 400 * DAY_MS
    month, year = time.gmtime(start / 1000)[1], time.gmtime(start / 1000)[0] % 100
    inst.card = {
        "externalHandle": store.random_token(12),
        "cardBrand": "MASTERCARD",
        "type": "VIRTUAL",
        "nameOnCard": identity.name[:27],
        "cardNumberFirstSix": "522093",
        "cardNumberLastFour": f"{rng.randrange(10_000):04d}",
        "startMmyy": f"{month:02d}{year:02d}",
        "expiryMmyy": f"{month:02d}{(year + 3) % 100:02d}",
        "expiryPeriodMonths": 36,
        "cardNumber": {"value": store.random_token(16)},
        "cvv": {"value": store.random_token(3)},
    }
    return inst


def post_transactions(store: Store, inst: StoredInstrument, count: int, at: int | None) -> None:
    """Append ``count`` random new entries to ``inst`` at the simulator's now, or insert
    ``count`` back-dated credits at timestamp ``at``."""
    if count <= 0:
        return
    if at is not None:
        first = int(store.new_id(reserve=count))
        for n in range(count):
            inst.ledger.insert_backdated(at, 1_000 + n, first + n)
        return
    ts = store.stamp(inst)
    inst.ledger.add_random(count, ts, int(store.new_id(reserve=count)))


def ledger_entries(inst: StoredInstrument) -> list[dict[str, Any]]:
    """Every statement entry of ``inst``, oldest first, as fresh copies."""
    ledger = inst.ledger
    wb = not inst.is_debit
    entries = [ledger.entry(i, wb) for i in range(len(ledger))]
    result: list[dict[str, Any]] = orjson.loads(orjson.dumps(entries))
    return result


# -- the bodies the API answers


def account_body(inst: StoredInstrument) -> dict[str, Any]:
    """The ManagedAccount JSON."""
    bal = inst.balance
    body: dict[str, Any] = {
        "id": inst.id,
        "profileId": inst.profile_id,
        "friendlyName": inst.friendly_name,
        "currency": inst.currency,
        "balances": {"availableBalance": bal, "actualBalance": bal},
        "state": inst.state_json(),
        "creationTimestamp": inst.created_ms,
    }
    if inst.tag is not None:
        body["tag"] = inst.tag
    return body


def card_body(inst: StoredInstrument) -> dict[str, Any]:
    """The ManagedCard JSON (a DEBIT_MODE card's ``availableToSpend`` mirrors its limits)."""
    body: dict[str, Any] = {
        "id": inst.id,
        "profileId": inst.profile_id,
        "friendlyName": inst.friendly_name,
        "currency": inst.currency,
        "state": inst.state_json(),
        "mode": inst.mode,
        "cardLevelClassification": inst.identity.type,
        "renewalType": inst.renewal_type,
        "creationTimestamp": inst.created_ms,
        "billingAddress": {
            "addressLine1": "1 Test Street",
            "city": "Valletta",
            "postCode": "VLT 1000",
            "country": "MT",
        },
        "digitalWallets": {"pushProvisioningEnabled": False, "walletsEnabled": False},
    }
    body.update(inst.card)
    if inst.tag is not None:
        body["tag"] = inst.tag
    if inst.is_debit:
        assert inst.parent is not None
        body["parentManagedAccountId"] = inst.parent.id
        limits = (inst.rules or {}).get("spendLimit") or []
        body["availableToSpend"] = [
            {"value": dict(limit["value"]), "interval": limit["interval"]} for limit in limits
        ]
    else:
        bal = inst.balance
        body["balances"] = {"availableBalance": bal, "actualBalance": bal}
    return body


def get_instrument(store: Store, identity: StoredIdentity, kind: str, inst_id: str) -> Reply:
    """GET /managed_accounts/{id} or /managed_cards/{id}."""
    inst = store.instrument_of(identity, kind, inst_id)
    return Reply(200, account_body(inst) if kind == ACCOUNTS else card_body(inst))


# -- card actions


def block_card(store: Store, identity: StoredIdentity, card_id: str) -> Reply:
    """Block by the user (409 when destroyed, lost or stolen, or blocked already)."""
    card = store.card_of(identity, card_id)
    if card.state == "DESTROYED":
        raise conflict("INSTRUMENT_DESTROYED")
    if card.blocked_reason == "LOST":
        raise conflict("INSTRUMENT_MARKED_LOST_STOLEN")
    if card.state == "BLOCKED":
        raise conflict("INSTRUMENT_ALREADY_BLOCKED")
    card.state, card.blocked_reason = "BLOCKED", "USER"
    return Reply(204)


def unblock_card(store: Store, identity: StoredIdentity, card_id: str) -> Reply:
    """Lift a block by the user (only those: any other block is 403)."""
    card = store.card_of(identity, card_id)
    if card.state == "DESTROYED":
        raise conflict("INSTRUMENT_DESTROYED")
    if card.state != "BLOCKED":
        raise conflict("INSTRUMENT_NOT_BLOCKED")
    if card.blocked_reason == "LOST":
        raise conflict("INSTRUMENT_MARKED_LOST_STOLEN")
    if card.blocked_reason != "USER":
        raise forbidden()
    card.state, card.blocked_reason = "ACTIVE", None
    return Reply(204)


def remove_card(store: Store, identity: StoredIdentity, card_id: str) -> Reply:
    """Destroy a card whose balance is zero."""
    card = store.card_of(identity, card_id)
    if card.state == "DESTROYED":
        raise conflict("INSTRUMENT_ALREADY_REMOVED")
    if card.balance != 0:
        raise conflict("BALANCE_NOT_ZERO")
    card.state, card.blocked_reason, card.destroyed_reason = "DESTROYED", None, "USER"
    return Reply(204)


def set_renewal_type(store: Store, identity: StoredIdentity, card_id: str, body: Any) -> Reply:
    """RENEW or NO_RENEW, for a card not destroyed."""
    card = store.card_of(identity, card_id)
    problems = Problems()
    obj = check_object(body, problems, "")
    renewal = None
    if obj is not None:
        renewal = check_enum(obj, "renewalType", problems, ("RENEW", "NO_RENEW"), required=True)
    if problems or renewal is None:
        raise invalid(problems)
    if card.state == "DESTROYED":
        raise conflict("INSTRUMENT_DESTROYED")
    card.renewal_type = renewal
    return Reply(204)
