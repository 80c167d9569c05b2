"""Card spend rules: reading, setting, merging (OVERWRITE or INCREMENT limits), deleting."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ._entities import StoredIdentity, StoredInstrument
from ._replies import Reply, conflict, invalid
from ._store import Store
from ._validation import (
    Problems,
    check_amount,
    check_bool,
    check_enum,
    check_int,
    check_object,
    check_string_list,
)

__all__ = ["create_rules", "delete_rules", "get_rules", "update_rules"]

SPEND_INTERVALS = ("DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY", "ALWAYS")
_MERCHANT_COUNTRY = re.compile(r"^[A-Z]{2}$")
_MERCHANT_LISTS = (
    "allowedMerchantCategories",
    "blockedMerchantCategories",
    "allowedMerchantIds",
    "blockedMerchantIds",
)
_COUNTRY_LISTS = ("allowedMerchantCountries", "blockedMerchantCountries")
_FLAGS = (
    "allowContactless",
    "allowAtm",
    "allowECommerce",
    "allowCashback",
    "allowCreditAuthorisations",
)
_PROFILE_LEVEL_RULES = {
    "allowContactless": True,
    "allowAtm": True,
    "allowECommerce": True,
    "allowCashback": True,
    "allowCreditAuthorisations": True,
    "blockedMerchantCategories": ["7995"],
}


def get_rules(store: Store, identity: StoredIdentity, card_id: str) -> Reply:
    """The card's own rules, beside fixed profile-level ones."""
    card = store.card_of(identity, card_id)
    rules = orjson.loads(orjson.dumps(card.rules or {}))
    return Reply(
        200,
        {
            "cardLevelSpendRules": rules,
            "profileLevelSpendRules": dict(_PROFILE_LEVEL_RULES),
            "identityLevelSpendRules": {},
        },
    )


def create_rules(store: Store, identity: StoredIdentity, card_id: str, body: Any) -> Reply:
    """Set the card's rules (409 SPEND_RULE_ALREADY_SET if it has some)."""
    card = store.card_of(identity, card_id)
    rules, _ = _parse_rules(body, update=False)
    if card.rules is not None:
        raise conflict("SPEND_RULE_ALREADY_SET")
    _check_limits(card, rules.get("spendLimit") or [])
    card.rules = rules
    return Reply(204)


def update_rules(store: Store, identity: StoredIdentity, card_id: str, body: Any) -> Reply:
    """Merge into the card's rules; ``spendLimit`` replaced whole (OVERWRITE) or added to per
    interval (INCREMENT)."""
    card = store.card_of(identity, card_id)
    changes, method = _parse_rules(body, update=True)
    limits = changes.pop("spendLimit", None)
    _check_limits(card, limits or [])
    merged = dict(card.rules or {})
    merged.update(changes)
    if limits is not None:
        if method == "INCREMENT":
            current = [{**lim, "value": dict(lim["value"])} for lim in merged.get("spendLimit", [])]
            by_interval = {lim["interval"]: lim for lim in current}
            for lim in limits:
                existing = by_interval.get(lim["interval"])
                if existing is None:
                    current.append(lim)
                else:
                    existing["value"]["amount"] += lim["value"]["amount"]
            merged["spendLimit"] = current
        else:
            merged["spendLimit"] = limits
    card.rules = merged
    return Reply(204)


def delete_rules(store: Store, identity: StoredIdentity, card_id: str) -> Reply:
    """Remove the card's own rules."""
    store.card_of(identity, card_id).rules = None
    return Reply(204)


def _parse_rules(  # noqa: C901 (one flat check per rule of the body, into one Problems)
    body: Any, update: bool
) -> tuple[dict[str, Any], str]:
    """The rules a body sets and its limit method; refused 400 with every problem found."""
    problems = Problems()
    obj = check_object(body, problems, "")
    if obj is None:
        raise invalid(problems)
    rules: dict[str, Any] = {}
    for key in _MERCHANT_LISTS:
        value = check_string_list(obj, key, problems, max_items=200)
        if value is not None:
            rules[key] = value
    for key in _COUNTRY_LISTS:
        value = check_string_list(obj, key, problems, max_items=50, pattern=_MERCHANT_COUNTRY)
        if value is not None:
            rules[key] = value
    for key in _FLAGS:
        flag = check_bool(obj, key, problems)
        if flag is not None:
            rules[key] = flag
    for key in ("minTransactionAmount", "maxTransactionAmount"):
        amount = check_int(obj, key, problems, minimum=0)
        if amount is not None:
            rules[key] = amount
    rollover = check_object(obj.get("rolloverPolicy"), problems, "rolloverPolicy", required=False)
    if rollover is not None:
        flag = check_bool(rollover, "rolloverNegative", problems, "rolloverPolicy", required=True)
        if flag is not None:
            rules["rolloverPolicy"] = {"rolloverNegative": flag}
    limits = obj.get("spendLimit")
    if limits is not None:
        if not isinstance(limits, list):
            problems.add("spendLimit", "INVALID_TYPE_OR_VALUE", "spendLimit must be an array")
        else:
            rules["spendLimit"] = _parse_limits(limits, problems)
    method = "OVERWRITE"
    if update:
        method = (
            check_enum(obj, "updateSpendLimitMethod", problems, ("OVERWRITE", "INCREMENT"))
            or "OVERWRITE"
        )
    if problems:
        raise invalid(problems)
    return rules, method


def _parse_limits(limits: list[Any], problems: Problems) -> list[dict[str, Any]]:
    parsed = []
    for n, item in enumerate(limits):
        path = f"spendLimit[{n}]"
        limit = check_object(item, problems, path)
        if limit is None:
            continue
        money = check_amount(limit, "value", problems, path)
        interval = check_enum(limit, "interval", problems, SPEND_INTERVALS, path, required=True)
        start = check_int(limit, "startTimestamp", problems, path)
        if money is None or interval is None:
            continue
        entry: dict[str, Any] = {
            "value": {"currency": money[0], "amount": money[1]},
            "interval": interval,
        }
        if start is not None:
            entry["startTimestamp"] = start
        parsed.append(entry)
    return parsed


def _check_limits(card: StoredInstrument, limits: list[dict[str, Any]]) -> None:
    """Refuse limits the card cannot take (409)."""
    if not limits:
        return
    if not card.is_debit:
        raise conflict("SPEND_LIMIT_NOT_SUPPORTED_FOR_PREPAID_MODE_CARD")
    if any(limit["value"]["currency"] != card.currency for limit in limits):
        raise conflict("SPEND_LIMIT_CURRENCY_DIFFERENT_FROM_CARD_CURRENCY")
    if any(limit["value"]["amount"] < 0 for limit in limits):
        raise conflict("SPEND_LIMIT_AMOUNT_INVALID")
    intervals = [limit["interval"] for limit in limits]
    if len(set(intervals)) != len(intervals):
        raise conflict("SPEND_LIMIT_DUPLICATE_INTERVAL")
