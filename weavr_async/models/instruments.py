"""Managed accounts, managed cards and their statements."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._answered import Answered
from ._marks import SHARED_STR
from .common import CurrencyAmount, ScaledAmount, TransactionId

__all__ = [
    "AvailableToSpend",
    "BillingAddress",
    "DeliveryAddress",
    "DigitalWallets",
    "ExternalDataItem",
    "InstrumentBalances",
    "InstrumentState",
    "ManagedAccount",
    "ManagedCard",
    "ManagedCardReplacement",
    "PhysicalCardDetails",
    "PhysicalCardReplacement",
    "SensitiveValue",
    "StatementEntry",
    "ThreeDSecureAuthConfig",
    "UserCurrencyTransactionDetails",
]


@attrs.define(slots=True)
class InstrumentBalances:
    """Available funds (usable now) and actual funds (including blocked or pending ones)."""

    available_balance: int | None = None
    actual_balance: int | None = None


@attrs.define(slots=True)
class InstrumentState:
    """ACTIVE, BLOCKED, DESTROYED or NOT_ENABLED, with the reason where there is one."""

    state: str
    blocked_reason: str | None = None
    destroyed_reason: str | None = None


@attrs.define(slots=True)
class ManagedAccount(Answered):
    id: str
    profile_id: str
    friendly_name: str
    currency: str
    balances: InstrumentBalances
    state: InstrumentState
    creation_timestamp: int
    tag: str | None = None
    low_balance_threshold: int | None = None


@attrs.define(slots=True)
class UserCurrencyTransactionDetails:
    user_transaction_amount: CurrencyAmount
    user_exchange_rate: str


@attrs.define(slots=True)
class StatementEntry:
    """One movement on an account's or card's statement.

    `additional_fields` is the API's free-form string map (merchant name, counterparty, note...)
    handed over as decoded, without copying.
    """

    transaction_id: TransactionId
    entry_state: str = attrs.field(metadata=SHARED_STR)
    transaction_amount: CurrencyAmount
    processed_timestamp: int
    original_amount: CurrencyAmount | None = None
    forex_rate: ScaledAmount | None = None
    available_balance_adjustment: CurrencyAmount | None = None
    actual_balance_adjustment: CurrencyAmount | None = None
    balance_after: CurrencyAmount | None = None
    available_balance_after: CurrencyAmount | None = None
    actual_balance_after: CurrencyAmount | None = None
    transaction_fee: CurrencyAmount | None = None
    cardholder_fee: CurrencyAmount | None = None
    source_amount: CurrencyAmount | None = None
    user_currency_transaction_details: UserCurrencyTransactionDetails | None = None
    additional_fields: Mapping[str, str] = attrs.field(factory=dict)


@attrs.define(slots=True)
class SensitiveValue:
    """A card number or CVV, tokenised unless the innovator is PCI-DSS compliant."""

    value: str | None = attrs.field(default=None, repr=False)


@attrs.define(slots=True)
class BillingAddress:
    address_line1: str
    city: str
    post_code: str
    country: str
    address_line2: str | None = None
    state: str | None = None


@attrs.define(slots=True)
class DeliveryAddress:
    name: str
    surname: str
    address_line1: str
    city: str
    post_code: str
    country: str
    address_line2: str | None = None
    state: str | None = None
    contact_number: str | None = None


@attrs.define(slots=True)
class PhysicalCardReplacement:
    """Deprecated by the API: which card replaced a physical card, and why (DAMAGED,
    LOST_STOLEN, EXPIRED). `ManagedCard.replacement` is the current field."""

    replacement_reason: str | None = None
    replacement_id: str | None = None


@attrs.define(slots=True)
class PhysicalCardDetails:
    """The physical side of a card. `replacement` and `name_on_card_line2` are deprecated by
    the API (`ManagedCard.replacement`, `ManagedCard.name_on_card_line2`) but still sent, so
    they are decoded."""

    pending_activation: bool
    bulk_delivery: bool | None = None
    product_reference: str | None = None
    carrier_type: str | None = None
    pin_blocked: bool | None = None
    manufacturing_state: str | None = None
    delivery_address: DeliveryAddress | None = None
    delivery_method: str | None = None
    delivery_tracking_code: str | None = None
    delivery_tracking_method: str | None = None
    delivery_tracking_url: str | None = None
    replacement: PhysicalCardReplacement | None = None
    name_on_card_line2: str | None = None


@attrs.define(slots=True)
class DigitalWallets:
    push_provisioning_enabled: bool | None = None
    wallets_enabled: bool | None = None
    artwork_reference: str | None = None


@attrs.define(slots=True)
class ThreeDSecureAuthConfig:
    """Deprecated by the API, still sent: how a card's 3DS challenges reach its user."""

    linked_user_id: str
    primary_channel: str
    fallback_channel: str | None = None


@attrs.define(slots=True)
class ExternalDataItem:
    name: str | None = None
    value: str | None = None


@attrs.define(slots=True)
class ManagedCardReplacement:
    id: str
    reason: str


@attrs.define(slots=True)
class AvailableToSpend:
    value: CurrencyAmount | None = None
    interval: str | None = None


@attrs.define(slots=True)
class ManagedCard(Answered):
    """A managed card. `mode` is PREPAID_MODE (own `balances`) or DEBIT_MODE (spends from
    `parent_managed_account_id`, within `available_to_spend`).

    `cardholder_mobile_number` and `three_d_secure_auth_config` are deprecated by the API but
    still sent, so they are decoded."""

    id: str
    profile_id: str
    external_handle: str
    friendly_name: str
    currency: str
    state: InstrumentState
    type: str
    card_brand: str
    card_number_first_six: str
    card_number_last_four: str
    name_on_card: str
    start_mmyy: str
    expiry_mmyy: str
    card_level_classification: str
    expiry_period_months: int
    renewal_type: str
    creation_timestamp: int
    mode: str
    billing_address: BillingAddress
    digital_wallets: DigitalWallets
    tag: str | None = None
    card_number: SensitiveValue | None = None
    cvv: SensitiveValue | None = None
    name_on_card_line2: str | None = None
    renewal_timestamp: int | None = None
    cardholder_mobile_number: str | None = None
    physical_card_details: PhysicalCardDetails | None = None
    auth_forwarding_default_timeout_decision: str | None = None
    three_d_secure_auth_config: ThreeDSecureAuthConfig | None = None
    external_data: list[ExternalDataItem] | None = None
    user_id: str | None = None
    single_spend: bool | None = None
    replacement: ManagedCardReplacement | None = None
    balances: InstrumentBalances | None = None
    parent_managed_account_id: str | None = None
    user_currency: str | None = None
    available_to_spend: list[AvailableToSpend] | None = None
