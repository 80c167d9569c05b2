"""One module per API tag; each method declares an operation and validates its arguments."""

from .access_tokens import AccessTokens, Impersonation
from .bulks import Bulks
from .fees import Consumers, Corporates, Fees
from .managed_accounts import ManagedAccounts
from .managed_cards import ManagedCards, SpendRules
from .transfers import Transfers
from .users import Users

__all__ = [
    "AccessTokens",
    "Bulks",
    "Consumers",
    "Corporates",
    "Fees",
    "Impersonation",
    "ManagedAccounts",
    "ManagedCards",
    "SpendRules",
    "Transfers",
    "Users",
]
