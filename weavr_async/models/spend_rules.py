"""Card spend rules at card, profile and identity level."""

from __future__ import annotations

import attrs

from ._answered import Answered
from .common import CurrencyAmount

__all__ = [
    "AllLevelSpendRules",
    "CardSpendRules",
    "IdentitySpendRules",
    "ProfileSpendRules",
    "RolloverPolicy",
    "SpendLimit",
]


@attrs.define(slots=True)
class SpendLimit:
    """At most `value` spent per `interval` (DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY, ALWAYS)."""

    value: CurrencyAmount
    interval: str
    start_timestamp: int | None = None


@attrs.define(slots=True)
class RolloverPolicy:
    rollover_negative: bool


@attrs.define(slots=True, kw_only=True)
class _CommonSpendRules:
    """The rules every level shares (the contract's CommonLevelSpendRules)."""

    allowed_merchant_categories: list[str] | None = None
    blocked_merchant_categories: list[str] | None = None
    allowed_merchant_ids: list[str] | None = None
    blocked_merchant_ids: list[str] | None = None
    allowed_merchant_countries: list[str] | None = None
    blocked_merchant_countries: list[str] | None = None
    allow_contactless: bool | None = None
    allow_atm: bool | None = None
    allow_e_commerce: bool | None = None
    allow_cashback: bool | None = None
    allow_credit_authorisations: bool | None = None
    rollover_policy: RolloverPolicy | None = None


@attrs.define(slots=True, kw_only=True)
class CardSpendRules(_CommonSpendRules):
    """Rules on one card. Fields left as None are not sent (and so not changed by an update)."""

    spend_limit: list[SpendLimit] | None = None
    min_transaction_amount: int | None = None
    max_transaction_amount: int | None = None


@attrs.define(slots=True, kw_only=True)
class ProfileSpendRules(_CommonSpendRules):
    auth_forwarding_enabled: bool | None = None


@attrs.define(slots=True, kw_only=True)
class IdentitySpendRules(_CommonSpendRules):
    min_transaction_amount: int | None = None
    max_transaction_amount: int | None = None


@attrs.define(slots=True, kw_only=True)
class AllLevelSpendRules(Answered):
    """The rules that apply to a card: its own, its profile's and its identity's.

    The other fields are deprecated by the API: the card's own rules as they were answered
    before `card_level_spend_rules` existed. A card whose rules were only ever set that way
    still answers with them (and nothing in `card_level_spend_rules`), so they are decoded
    rather than dropped; read them where the card level is None. Each one mirrors the
    `CardSpendRules` field of the same name.
    """

    card_level_spend_rules: CardSpendRules | None = None
    profile_level_spend_rules: ProfileSpendRules | None = None
    identity_level_spend_rules: IdentitySpendRules | None = None
    allowed_merchant_categories: list[str] | None = None
    """Deprecated by the API: `card_level_spend_rules.allowed_merchant_categories`."""
    blocked_merchant_categories: list[str] | None = None
    """Deprecated by the API: `card_level_spend_rules.blocked_merchant_categories`."""
    allowed_merchant_ids: list[str] | None = None
    """Deprecated by the API: `card_level_spend_rules.allowed_merchant_ids`."""
    blocked_merchant_ids: list[str] | None = None
    """Deprecated by the API: `card_level_spend_rules.blocked_merchant_ids`."""
    allowed_merchant_countries: list[str] | None = None
    """Deprecated by the API: `card_level_spend_rules.allowed_merchant_countries`."""
    blocked_merchant_countries: list[str] | None = None
    """Deprecated by the API: `card_level_spend_rules.blocked_merchant_countries`."""
    allow_contactless: bool | None = None
    """Deprecated by the API: `card_level_spend_rules.allow_contactless`."""
    allow_atm: bool | None = None
    """Deprecated by the API: `card_level_spend_rules.allow_atm`."""
    allow_e_commerce: bool | None = None
    """Deprecated by the API: `card_level_spend_rules.allow_e_commerce`."""
    allow_cashback: bool | None = None
    """Deprecated by the API: `card_level_spend_rules.allow_cashback`."""
    allow_credit_authorisations: bool | None = None
    """Deprecated by the API: `card_level_spend_rules.allow_credit_authorisations`."""
    min_transaction_amount: int | None = None
    """Deprecated by the API: `card_level_spend_rules.min_transaction_amount`."""
    max_transaction_amount: int | None = None
    """Deprecated by the API: `card_level_spend_rules.max_transaction_amount`."""
    spend_limit: list[SpendLimit] | None = None
    """Deprecated by the API: `card_level_spend_rules.spend_limit`."""
