"""Card spend rules at card, profile and identity level."""

from __future__ import annotations

import attrs

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
class AllLevelSpendRules:
    """The rules that apply to a card: its own, its profile's and its identity's."""

    card_level_spend_rules: CardSpendRules | None = None
    profile_level_spend_rules: ProfileSpendRules | None = None
    identity_level_spend_rules: IdentitySpendRules | None = None
