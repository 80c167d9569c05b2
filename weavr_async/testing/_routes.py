"""The route table: every operation of the contract, once, with all the app needs to serve it.

The aiohttp routes (named by operationId), the operation ids the fault scripts accept, the
idempotent operations and each operation's 400 body shape are all read from `ROUTES`.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ._handlers import access_token, bulks, fees, managed_accounts, managed_cards, transfers, users
from ._handlers._call import Call
from ._replies import ErrorStyle, Reply
from ._statements import StatementPage

__all__ = ["BASE_PATH", "OPERATION_IDS", "ROUTES", "ROUTES_BY_OPERATION", "Handler", "Route"]

BASE_PATH = "/multi/backoffice"

Handler = Callable[[Call], Reply | StatementPage]


@attrs.frozen
class Route:
    """One operation: where it is served, what runs it, and how the contract declares it."""

    method: str
    path: str
    """Under `BASE_PATH`, in aiohttp's template syntax."""
    operation_id: str
    handler: Handler
    idempotent: bool = False
    """The operation takes an ``idempotency-ref``: a repeat replays the first answer."""
    errors: ErrorStyle = "validation"
    """The body shape of its 400."""


_BULK = "/bulks/{bulk_id}"
_CARD = "/managed_cards/{id}"

# Fixed paths before their templated siblings (aiohttp matches in order).
ROUTES: tuple[Route, ...] = (
    # Access Token, User Impersonation
    Route("POST", "/impersonate_identity_login", "impersonateIdentityLogin",
          access_token.request_token),
    Route("POST", "/access_token", "requestAccessToken", access_token.request_token),
    # Bulk processes: Manage, Operations
    Route("GET", "/bulks", "bulks", bulks.list_all, errors="syntax"),
    Route("POST", "/bulks/transfers", "bulksTransferCreate", bulks.submit_transfers,
          idempotent=True, errors="syntax"),
    Route("PATCH", "/bulks/managed_cards/_id_/spend_rules", "bulksManagedCardSpendRulesUpdate",
          bulks.submit_spend_rules, idempotent=True, errors="syntax"),
    Route("GET", _BULK, "bulkId", bulks.get, errors="syntax"),
    Route("GET", f"{_BULK}/operations", "bulkIdOperations", bulks.operations, errors="syntax"),
    Route("POST", f"{_BULK}/execute", "bulkIdExecute", bulks.execute, errors="syntax"),
    Route("POST", f"{_BULK}/pause", "bulkIdPause", bulks.pause, errors="syntax"),
    Route("POST", f"{_BULK}/resume", "bulkIdResume", bulks.resume, errors="syntax"),
    Route("POST", f"{_BULK}/cancel", "bulkIdCancel", bulks.cancel, errors="syntax"),
    # Fees, Corporates, Consumers
    Route("POST", "/fees/charge", "chargeFee", fees.charge, idempotent=True, errors="syntax"),
    Route("POST", "/corporates/fees/charge", "corporateChargeFee", fees.charge_corporate,
          idempotent=True),
    Route("POST", "/consumers/fees/charge", "consumerChargeFee", fees.charge_consumer,
          idempotent=True),
    # Managed Accounts
    Route("GET", "/managed_accounts/{id}", "managedAccountGet", managed_accounts.get),
    Route("GET", "/managed_accounts/{id}/statement", "managedAccountStatement",
          managed_accounts.get_statement),
    # Managed Cards
    Route("GET", _CARD, "managedCardGet", managed_cards.get),
    Route("PATCH", f"{_CARD}/renewal", "managedCardRenewalTypeUpdate", managed_cards.renewal,
          idempotent=True),
    Route("POST", f"{_CARD}/remove", "managedCardRemove", managed_cards.remove),
    Route("POST", f"{_CARD}/block", "managedCardBlock", managed_cards.block),
    Route("POST", f"{_CARD}/unblock", "managedCardUnblock", managed_cards.unblock),
    Route("GET", f"{_CARD}/spend_rules", "managedCardSpendRulesGet",
          managed_cards.get_spend_rules),
    Route("POST", f"{_CARD}/spend_rules", "managedCardSpendRulesCreate",
          managed_cards.create_spend_rules),
    Route("PATCH", f"{_CARD}/spend_rules", "managedCardSpendRulesUpdate",
          managed_cards.update_spend_rules, idempotent=True),
    Route("DELETE", f"{_CARD}/spend_rules", "managedCardSpendRulesDelete",
          managed_cards.delete_spend_rules),
    Route("GET", f"{_CARD}/statement", "managedCardStatement", managed_cards.get_statement),
    # Transfers
    Route("POST", "/transfers", "transferCreate", transfers.create, idempotent=True),
    Route("GET", "/transfers", "transfersGet", transfers.list_all),
    Route("GET", "/transfers/{id}", "transferGet", transfers.get),
    # Authorised Users
    Route("POST", "/users", "userCreate", users.create, idempotent=True, errors="syntax"),
    Route("POST", "/users/{user_id}/deactivate", "userDeactivate", users.deactivate,
          errors="syntax"),
    Route("POST", "/users/{user_id}/invite", "userInviteSend", users.invite, errors="syntax"),
)  # fmt: skip

ROUTES_BY_OPERATION: dict[str, Route] = {route.operation_id: route for route in ROUTES}
OPERATION_IDS: frozenset[str] = frozenset(ROUTES_BY_OPERATION)
