"""The aiohttp application of the fake BackOffice: routing, auth, faults, idempotency, paging."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import orjson
from aiohttp import web
from multidict import MultiMapping

from ._books import BOOK_FAULTS, BookFault, corrupt, record_statement_transfers
from ._faults import FaultAction, Faults
from ._history import KIND, PENDING_KINDS, STATEMENT_TYPES, ZERO_ADJUSTMENT_KINDS
from ._render import render_csv, render_pdf
from ._state import (
    ACCOUNTS,
    BULK_OP_STATUSES,
    BULK_STATUSES,
    CARDS,
    HISTORY_END_MS,
    TRANSACTION_STATES,
    Backend,
    BulkOpsQuery,
    BulksQuery,
    IdentityType,
    RecordedRequest,
    Reply,
    SeededIdentity,
    SeededInstrument,
    SeededUser,
    StatementPage,
    StatementQuery,
    TransfersQuery,
    _Identity,
    _Instrument,
    _User,
    forbidden,
)
from ._validation import DIGITS, Problems
from ._webhooks import WebhookDelivery, WebhookSender, loopback_url

__all__ = ["BASE_PATH", "FakeBackOffice", "ResponseValidator"]

BASE_PATH = "/multi/backoffice"
_INT64 = (-(2**63), 2**63 - 1)
_INT32_MAX = 2**31 - 1
_INTEGER = re.compile(r"^-?[0-9]+$")
_TAG = re.compile(r"^[a-zA-Z0-9_-]+$")

# (method, path under the base, operationId) — fixed paths before templated siblings.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/impersonate_identity_login", "impersonateIdentityLogin"),
    ("POST", "/access_token", "requestAccessToken"),
    ("GET", "/bulks", "bulks"),
    ("POST", "/bulks/transfers", "bulksTransferCreate"),
    ("PATCH", "/bulks/managed_cards/_id_/spend_rules", "bulksManagedCardSpendRulesUpdate"),
    ("GET", "/bulks/{bulk_id}", "bulkId"),
    ("GET", "/bulks/{bulk_id}/operations", "bulkIdOperations"),
    ("POST", "/bulks/{bulk_id}/execute", "bulkIdExecute"),
    ("POST", "/bulks/{bulk_id}/pause", "bulkIdPause"),
    ("POST", "/bulks/{bulk_id}/resume", "bulkIdResume"),
    ("POST", "/bulks/{bulk_id}/cancel", "bulkIdCancel"),
    ("POST", "/fees/charge", "chargeFee"),
    ("POST", "/corporates/fees/charge", "corporateChargeFee"),
    ("POST", "/consumers/fees/charge", "consumerChargeFee"),
    ("GET", "/managed_accounts/{id}", "managedAccountGet"),
    ("GET", "/managed_accounts/{id}/statement", "managedAccountStatement"),
    ("GET", "/managed_cards/{id}", "managedCardGet"),
    ("PATCH", "/managed_cards/{id}/renewal", "managedCardRenewalTypeUpdate"),
    ("POST", "/managed_cards/{id}/remove", "managedCardRemove"),
    ("POST", "/managed_cards/{id}/block", "managedCardBlock"),
    ("POST", "/managed_cards/{id}/unblock", "managedCardUnblock"),
    ("GET", "/managed_cards/{id}/spend_rules", "managedCardSpendRulesGet"),
    ("POST", "/managed_cards/{id}/spend_rules", "managedCardSpendRulesCreate"),
    ("PATCH", "/managed_cards/{id}/spend_rules", "managedCardSpendRulesUpdate"),
    ("DELETE", "/managed_cards/{id}/spend_rules", "managedCardSpendRulesDelete"),
    ("GET", "/managed_cards/{id}/statement", "managedCardStatement"),
    ("POST", "/transfers", "transferCreate"),
    ("GET", "/transfers", "transfersGet"),
    ("GET", "/transfers/{id}", "transferGet"),
    ("POST", "/users", "userCreate"),
    ("POST", "/users/{user_id}/deactivate", "userDeactivate"),
    ("POST", "/users/{user_id}/invite", "userInviteSend"),
)
OPERATION_IDS: frozenset[str] = frozenset(op for _, _, op in ROUTES)
# Operations whose 400 is BadRequestError (syntaxErrors); the others use validationErrors.
_SYNTAX_OPS = frozenset(
    {
        "bulks",
        "bulkId",
        "bulkIdOperations",
        "bulkIdExecute",
        "bulkIdPause",
        "bulkIdResume",
        "bulkIdCancel",
        "chargeFee",
        "userCreate",
        "userDeactivate",
        "userInviteSend",
        "bulksManagedCardSpendRulesUpdate",
        "bulksTransferCreate",
    }
)
IDEMPOTENT_OPS = frozenset(
    {
        "chargeFee",
        "corporateChargeFee",
        "consumerChargeFee",
        "managedCardRenewalTypeUpdate",
        "managedCardSpendRulesUpdate",
        "transferCreate",
        "userCreate",
        "bulksManagedCardSpendRulesUpdate",
        "bulksTransferCreate",
    }
)
_MALFORMED: dict[str, tuple[bytes, str]] = {
    "truncated": (b'{"entry": [{"transactionId": {"type": "TRANSF', "application/json"),
    "garbage": (b"\x00\xff\xfe<<not json at all>>\x07", "application/json"),
    "html": (
        b"<html><head><title>502 Bad Gateway</title></head>"
        b"<body><h1>Bad Gateway</h1></body></html>",
        "text/html",
    ),
}

Result = Reply | StatementPage
ResponseValidator = Callable[[RecordedRequest, int, Mapping[str, str], bytes, str], str | None]
"""Checks one answer: (request, status, headers, body, content type) -> violation or None."""
IdentityLike = SeededIdentity | str
InstrumentLike = SeededInstrument | str


class _Ctx:
    """Everything a handler needs about the current request."""

    __slots__ = ("accept", "body", "identity", "match", "op", "query")

    def __init__(
        self,
        op: str,
        body: bytes,
        query: MultiMapping[str],
        match: dict[str, str],
        identity: _Identity | None,
        accept: str,
    ) -> None:
        self.op = op
        self.body = body
        self.query = query
        self.match = match
        self.identity = identity
        self.accept = accept

    @property
    def who(self) -> _Identity:
        assert self.identity is not None
        return self.identity


class _RateWindow:
    """One fixed window of the simulator's rate limiter."""

    __slots__ = ("count", "limit", "seconds", "start")

    def __init__(self, limit: int, seconds: float, start: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.start = start
        self.count = 0


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class _BadRequest(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__("bad request")
        self.reply = reply


class FakeBackOffice:
    """Embedded simulator of the Weavr Multi BackOffice API v3 on a local aiohttp server.

    Use it as an async context manager (or ``start``/``close``); seed identities, instruments,
    histories, transfers and users with the ``add_*`` methods, then point a client at ``url``
    with ``api_key``. State is in memory and deterministic for a given ``seed``.

    ``request_validator`` vets each request before anything else (a message: answered 400);
    ``response_validator`` vets each answer the operations give (auth, idempotent replays and
    handlers, not injected faults or the rate limiter, which are off-contract on purpose),
    and its messages collect in ``response_violations``.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        request_validator: Callable[[RecordedRequest], str | None] | None = None,
        response_validator: ResponseValidator | None = None,
        token_shape: Literal["object", "string"] = "object",
        history_end_ms: int = HISTORY_END_MS,
    ) -> None:
        self.seed = seed
        self._backend = Backend(seed, {"MONTHLY_FEE": 250, "CUSTOM_FEE": 100}, history_end_ms)
        self.api_key = api_key or "fake-" + random.Random(f"api-key:{seed}").randbytes(16).hex()
        self._webhooks = WebhookSender(lambda: self.api_key)
        self.host = host
        self._port = port
        self.latency = latency
        self.request_validator = request_validator
        self.response_validator = response_validator
        self.response_violations: list[str] = []
        self.token_shape = token_shape
        self.faults = Faults(seed, OPERATION_IDS)
        self.requests: list[RecordedRequest] = []
        self.record_requests = True
        self.token_requests = 0
        self.idempotent_replays = 0
        self.handler_errors: list[Exception] = []
        self.arrivals_per_statement_request = 0
        # Serve at most this many items a page whatever limit was asked (an API that caps its
        # pages below the documented maximum without saying so).
        self.page_cap: int | None = None
        self.arrivals_per_transfers_request = 0
        self._idempotency: dict[tuple[str, str, str, bytes], tuple[int, bytes | None]] = {}
        self._ref_counter = 0
        self._rate_windows: list[_RateWindow] = []
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Callable[[_Ctx], Result]] = {
            "impersonateIdentityLogin": self._h_token,
            "requestAccessToken": self._h_token,
            "bulks": self._h_bulks,
            "bulksTransferCreate": self._h_bulk_transfers,
            "bulksManagedCardSpendRulesUpdate": self._h_bulk_rules,
            "bulkId": self._h_bulk_get,
            "bulkIdOperations": self._h_bulk_ops,
            "bulkIdExecute": self._h_bulk_execute,
            "bulkIdPause": self._h_bulk_pause,
            "bulkIdResume": self._h_bulk_resume,
            "bulkIdCancel": self._h_bulk_cancel,
            "chargeFee": self._h_fee,
            "corporateChargeFee": self._h_fee,
            "consumerChargeFee": self._h_fee,
            "managedAccountGet": self._h_account_get,
            "managedAccountStatement": self._h_statement,
            "managedCardGet": self._h_card_get,
            "managedCardRenewalTypeUpdate": self._h_card_renewal,
            "managedCardRemove": self._h_card_remove,
            "managedCardBlock": self._h_card_block,
            "managedCardUnblock": self._h_card_unblock,
            "managedCardSpendRulesGet": self._h_rules_get,
            "managedCardSpendRulesCreate": self._h_rules_create,
            "managedCardSpendRulesUpdate": self._h_rules_update,
            "managedCardSpendRulesDelete": self._h_rules_delete,
            "managedCardStatement": self._h_statement,
            "transferCreate": self._h_transfer_create,
            "transfersGet": self._h_transfers,
            "transferGet": self._h_transfer_get,
            "userCreate": self._h_user_create,
            "userDeactivate": self._h_user_deactivate,
            "userInviteSend": self._h_user_invite,
        }

    # ------------------------------------------------------------------ lifecycle

    @staticmethod
    def operation_ids() -> frozenset[str]:
        """The 32 operationIds of the contract (each is the name of its aiohttp route)."""
        return OPERATION_IDS

    @property
    def port(self) -> int:
        """The bound TCP port (0 before ``start``)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:PORT/multi/backoffice``."""
        return f"http://{self.host}:{self._port}{BASE_PATH}"

    def make_app(self) -> web.Application:
        """Build the aiohttp application (routes named by operationId)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024 * 1024)
        for method, path, op in ROUTES:
            app.router.add_route(method, BASE_PATH + path, self._unrouted, name=op)
        return app

    async def start(self) -> None:
        """Start serving on ``host``:``port`` (a random free port when 0)."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])

    async def close(self) -> None:
        """Stop the server (state is kept)."""
        await self._webhooks.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeBackOffice:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ seeding

    def add_identity(
        self, identity_type: str = "CORPORATE", *, name: str | None = None
    ) -> SeededIdentity:
        """Create a CORPORATE or CONSUMER identity."""
        ident = self._backend.add_identity(identity_type, name)
        kind: IdentityType = "CONSUMER" if ident.type == "CONSUMER" else "CORPORATE"
        return SeededIdentity(ident.id, kind)

    def add_managed_account(
        self,
        identity: IdentityLike,
        currency: str = "EUR",
        history: int = 0,
        *,
        friendly_name: str | None = None,
    ) -> SeededInstrument:
        """Create a managed account with ``history`` seeded statement entries."""
        inst = self._backend.add_account(self._identity(identity), currency, history, friendly_name)
        return SeededInstrument(inst.id, ACCOUNTS, inst.identity.id, inst.currency)

    def add_managed_card(
        self,
        identity: IdentityLike,
        currency: str = "EUR",
        history: int = 0,
        mode: str = "PREPAID_MODE",
        parent_account: InstrumentLike | None = None,
        *,
        friendly_name: str | None = None,
    ) -> SeededInstrument:
        """Create a PREPAID_MODE card, or a DEBIT_MODE card under ``parent_account``."""
        parent = None if parent_account is None else self._instrument(parent_account)
        inst = self._backend.add_card(
            self._identity(identity), currency, history, mode, parent, friendly_name
        )
        return SeededInstrument(inst.id, CARDS, inst.identity.id, inst.currency, inst.mode)

    def add_transfers(self, identity: IdentityLike, count: int = 100) -> None:
        """Seed ``count`` past transfer records (records only; ledgers are not touched)."""
        self._backend.add_transfers(self._identity(identity), count)

    def add_user(
        self,
        identity: IdentityLike,
        email: str | None = None,
        *,
        name: str = "Test",
        surname: str = "User",
    ) -> SeededUser:
        """Create an active authorised user of ``identity``."""
        email = email or f"user{len(self._backend.users) + 1}.{self.seed}@example.com"
        user = self._backend.add_user(self._identity(identity), email, name, surname)
        return SeededUser(user.id, user.identity.id, user.email)

    # ------------------------------------------------------------------ knobs and inspection

    @property
    def fee_types(self) -> dict[str, int]:
        """Fee types accepted by fee charging, with their amounts in minor units."""
        return self._backend.fee_types

    @fee_types.setter
    def fee_types(self, value: dict[str, int]) -> None:
        self._backend.fee_types = value

    @property
    def bulk_auto_run(self) -> bool:
        """True: execute/resume run all operations at once; False: use ``advance_bulks``."""
        return self._backend.bulk_auto_run

    @bulk_auto_run.setter
    def bulk_auto_run(self, value: bool) -> None:
        self._backend.bulk_auto_run = value

    @property
    def webhook_url(self) -> str | None:
        """Where to POST signed bulk-process progress (None: nowhere, the default).

        Only http(s) URLs on a loopback IP address are accepted (ValueError otherwise). Each
        delivery is the process's BulkProcessDetails JSON, signed with ``api_key`` as Weavr
        signs webhooks; one goes out on every state change of an executed process, and with
        ``webhookInterval`` N in the execute body, also after every N operations run.
        Deliveries are sent in order by a background task; ``flush_webhooks`` waits for them,
        ``close`` too.
        """
        return self._webhooks.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self._webhooks.url = None if url is None else loopback_url(url)
        self._backend.bulk_listener = None if url is None else self._webhooks.bulk_changed

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """The deliveries made so far, in order, with the receiver's answer to each."""
        return self._webhooks.deliveries

    async def flush_webhooks(self) -> None:
        """Wait until every queued webhook delivery is made (at most 10 s)."""
        await self._webhooks.flush()

    def now_ms(self) -> int:
        """The simulator clock (epoch ms; never earlier than the newest entry + 1)."""
        return self._backend.now_ms()

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()

    def count(self, operation_id: str | None = None) -> int:
        """Number of recorded requests (of one operationId when given)."""
        if operation_id is None:
            return len(self.requests)
        return sum(1 for r in self.requests if r.operation_id == operation_id)

    def expire_tokens(self, identity: IdentityLike | None = None) -> None:
        """Invalidate the live tokens (all, or one identity's): the next call answers 401."""
        self._backend.expire_tokens(None if identity is None else self._identity(identity))

    def refuse_identity(self, identity: IdentityLike, refused: bool = True) -> None:
        """Make token requests for ``identity`` answer 409 UNRESOLVED_IDENTITY."""
        self._identity(identity).refused = refused

    def consume_invite(self, user: SeededUser | str) -> None:
        """Mark the user's invite consumed: the next invite answers 409."""
        self._user(user).invite_consumed = True

    def set_rate_limit(self, limit: int | None, window: float = 1.0) -> None:
        """Allow at most ``limit`` requests per fixed ``window`` seconds (None: no limit)."""
        self.set_rate_limits(None if limit is None else [(limit, window)])

    def set_rate_limits(self, limits: Sequence[tuple[int, float]] | None) -> None:
        """Enforce several (requests, window seconds) limits at once, as the API does for an
        API key (100/min, 1,000/h, 10,000/day, here scaled down in time); None: no limit.

        Each window is fixed and starts now. A request is admitted only if every window has
        room, and then counts in all of them; otherwise it is answered 429 with
        ``x-ratelimit-limit`` (the exceeded limit, then every limit with ``;w=<seconds>``)
        and ``x-ratelimit-reset`` (whole seconds until the exceeded windows are over, >= 1),
        and counts in none.
        """
        windows = []
        for limit, window in limits or ():
            if limit < 0:
                raise ValueError("limit must be >= 0")
            if not window > 0:
                raise ValueError("window must be > 0")
            windows.append(_RateWindow(limit, window, time.monotonic()))
        self._rate_windows = windows

    def advance_bulks(self, n_operations: int = 1) -> int:
        """Run the next ``n_operations`` of RUNNING bulks; returns how many ran."""
        return self._backend.advance_bulks(n_operations)

    def instrument_balance(self, instrument: InstrumentLike) -> int:
        """Current balance (available == actual) of an instrument; 0 for DEBIT_MODE cards."""
        return self._instrument(instrument).balance

    def ledger(self, instrument: InstrumentLike) -> list[dict[str, Any]]:
        """All statement entries of an instrument, oldest first, exactly as served."""
        return self._backend.ledger_entries(self._instrument(instrument))

    def post_transactions(
        self, instrument: InstrumentLike, n: int = 1, *, at: int | None = None
    ) -> None:
        """Append ``n`` random new entries to the instrument at the simulator's now; with
        ``at`` (epoch ms), insert ``n`` back-dated credits at that time instead, inside the
        history, as a late posting would (for testing walks that must repair)."""
        self._backend.post_transactions(self._instrument(instrument), n, at)

    def set_instrument_state(
        self, instrument: InstrumentLike, state: str, reason: str = "SYSTEM"
    ) -> None:
        """Force an instrument ACTIVE, BLOCKED (with reason) or DESTROYED (with reason)."""
        inst = self._instrument(instrument)
        if state not in ("ACTIVE", "BLOCKED", "DESTROYED"):
            raise ValueError("state must be ACTIVE, BLOCKED or DESTROYED")
        inst.state = state
        inst.blocked_reason = reason if state == "BLOCKED" else None
        inst.destroyed_reason = reason if state == "DESTROYED" else None

    def record_statement_transfers(self, instrument: InstrumentLike) -> int:
        """Give every TRANSFER entry of the instrument's statement its COMPLETED transfer
        (same id, amount and time; the other side an account outside the programme), so the
        cross-ledger checks of `weavr_async.reconcile` hold on seeded histories. Returns how
        many transfers were filed."""
        return record_statement_transfers(self._backend, self._instrument(instrument))

    def corrupt(self, instrument: InstrumentLike, fault: BookFault) -> str:
        """Plant one fault in the instrument's books (near the middle of its history, but for
        ``drop_entry``), so that exactly one check of `weavr_async.reconcile` fails for it:

        * ``break_chain`` (balance_chain): one entry's balance-after is off by one;
        * ``misstate_end_balance`` (balance_equation): every endBalance served is off by one;
        * ``duplicate_entry`` (unique_transactions): a second entry, same transaction id, time
          and state, moving nothing;
        * ``drop_entry`` (count): the newest entry is counted but never served;
        * ``lose_transfer`` (transfers_on_statement): a COMPLETED transfer into the
          instrument that is not on its statement;
        * ``forget_transfer`` (statement_transfers_known): the transfer of one TRANSFER entry
          is deleted (after ``record_statement_transfers``).

        Returns the transaction or transfer id concerned ("" for a misstated end balance).
        """
        if fault not in BOOK_FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {', '.join(BOOK_FAULTS)}")
        return corrupt(self._backend, self._instrument(instrument), fault)

    def _identity(self, identity: IdentityLike) -> _Identity:
        key = identity if isinstance(identity, str) else identity.id
        try:
            return self._backend.identities[key]
        except KeyError:
            raise KeyError(f"unknown identity {key}") from None

    def _instrument(self, instrument: InstrumentLike) -> _Instrument:
        key = instrument if isinstance(instrument, str) else instrument.id
        try:
            return self._backend.instruments[key]
        except KeyError:
            raise KeyError(f"unknown instrument {key}") from None

    def _user(self, user: SeededUser | str) -> _User:
        key = user if isinstance(user, str) else user.id
        try:
            return self._backend.users[key]
        except KeyError:
            raise KeyError(f"unknown user {key}") from None

    # ------------------------------------------------------------------ HTTP pipeline

    async def _unrouted(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()  # never reached: the middleware answers every request

    def _next_ref(self) -> str:
        self._ref_counter += 1
        return f"fake-{self.seed}-{self._ref_counter:08d}"

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        op: str | None = request.match_info.route.name
        body = await request.read()
        path = request.path
        if path.startswith(BASE_PATH):
            path = path[len(BASE_PATH) :] or "/"
        record = RecordedRequest(
            request.method,
            path,
            list(request.query.items()),
            {k.lower(): v for k, v in request.headers.items()},
            body,
            0,
            op,
        )
        if self.record_requests:
            self.requests.append(record)
        if op == "requestAccessToken":
            self.token_requests += 1
        response, dropped, answered = await self._process(request, record, op, body)
        if dropped:
            if request.transport is not None:
                request.transport.abort()
            record.status = 0
        else:
            record.status = response.status
        response.headers["request-ref"] = self._next_ref()
        if answered and self.response_validator is not None:
            self._check_response(self.response_validator, record, response)
        return response

    def _check_response(
        self, validator: ResponseValidator, record: RecordedRequest, response: web.Response
    ) -> None:
        body = response.body if isinstance(response.body, bytes) else b""
        content_type = response.headers.get("content-type", "")
        try:
            message = validator(record, response.status, response.headers, body, content_type)
        except Exception as exc:  # a broken validator must not turn into a 500 for the client
            message = f"{record.operation_id}: response validator raised {exc!r}"
        if message is not None:
            self.response_violations.append(message)

    async def _process(
        self, request: web.Request, record: RecordedRequest, op: str | None, body: bytes
    ) -> tuple[web.Response, bool, bool]:
        """The response, whether to drop the connection, and whether the operation answered
        (False for the strict-mode 400, the rate limiter, unrouted paths and injected faults)."""
        delay = self.latency + self.faults.slow_delay()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.request_validator is not None:
            message = self.request_validator(record)
            if message is not None:
                return _json(400, {"message": message[:255]}), False, False
        limited = self._rate_limited()
        if limited is not None:
            self.faults.injected["rate_limiter"] += 1
            return limited, False, False
        if op is None:
            exc = getattr(request.match_info, "http_exception", None)
            status = exc.status if isinstance(exc, web.HTTPException) else 404
            reason = "Method not allowed" if status == 405 else "No such operation"
            return _json(status, {"code": "NOT_FOUND" if status == 404 else "METHOD_NOT_ALLOWED",
                                  "message": reason}), False, False  # fmt: skip
        self._backend.run_due_transfers()
        fault = self.faults.next_action(op)
        after_commit = False
        if fault is not None:
            self.faults.injected[fault.kind] += 1
            if fault.kind == "drop_after_commit":
                after_commit = True
            else:
                return self._fault_response(fault), fault.kind == "drop", False
        response = self._authorised(request, op, body)
        return response, after_commit, True

    def _fault_response(self, fault: FaultAction) -> web.Response:
        if fault.kind == "rate_limit":
            return web.Response(
                status=429,
                headers={
                    "x-ratelimit-limit": self.faults.rate_limit_header,
                    "x-ratelimit-reset": str(fault.reset),
                },
            )
        if fault.kind == "malformed":
            payload, ctype = _MALFORMED[fault.malformed]
            return web.Response(status=200, body=payload, headers={"content-type": ctype})
        if fault.kind == "drop":
            return web.Response(status=599)
        headers = dict(fault.headers or {})
        payload_obj = fault.body
        if payload_obj is None:
            return web.Response(status=fault.status, headers=headers)
        if isinstance(payload_obj, bytes | str):
            raw = payload_obj.encode() if isinstance(payload_obj, str) else payload_obj
            headers.setdefault("content-type", "application/json")
            return web.Response(status=fault.status, body=raw, headers=headers)
        headers["content-type"] = "application/json"
        return web.Response(status=fault.status, body=orjson.dumps(payload_obj), headers=headers)

    def _rate_limited(self) -> web.Response | None:
        windows = self._rate_windows
        if not windows:
            return None
        now = time.monotonic()
        for window in windows:
            if now - window.start >= window.seconds:
                window.start, window.count = now, 0
        full = [window for window in windows if window.count >= window.limit]
        if not full:
            for window in windows:
                window.count += 1
            return None
        # The window that stays full longest is the one the client must wait out.
        exceeded = max(full, key=lambda window: window.start + window.seconds)
        reset = max(1, math.ceil(exceeded.start + exceeded.seconds - now))
        every = ", ".join(f"{window.limit};w={_seconds_text(window.seconds)}" for window in windows)
        return web.Response(
            status=429,
            headers={
                "x-ratelimit-limit": f"{exceeded.limit}, {every}",
                "x-ratelimit-reset": str(reset),
            },
        )

    def _authorised(self, request: web.Request, op: str, body: bytes) -> web.Response:
        if request.headers.get("api-key") != self.api_key:
            return web.Response(status=401)
        identity: _Identity | None = None
        if op != "requestAccessToken":
            auth = request.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            identity = (
                self._backend.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            )
            if identity is None:
                return web.Response(status=401)
        key = None
        if op in IDEMPOTENT_OPS and identity is not None:
            ref = request.headers.get("idempotency-ref")
            if ref:
                key = (identity.id, op, ref, hashlib.sha256(body).digest())
                stored = self._idempotency.get(key)
                if stored is not None:
                    self.idempotent_replays += 1
                    return _raw_json(*stored)
        ctx = _Ctx(
            op,
            body,
            request.query,
            dict(request.match_info),
            identity,
            request.headers.get("Accept", ""),
        )
        try:
            result = self._handlers[op](ctx)
        except _BadRequest as exc:
            result = exc.reply
        except Exception as exc:  # a simulator bug: answer 500 and keep it for inspection
            self.handler_errors.append(exc)
            return _json(500, {"code": "INTERNAL_ERROR", "message": repr(exc)[:255]})
        if isinstance(result, StatementPage):
            return self._render_statement(ctx, result)
        payload = None if result.body is None else orjson.dumps(result.body)
        if key is not None:
            self._idempotency[key] = (result.status, payload)
        return _raw_json(result.status, payload)

    def _render_statement(self, ctx: _Ctx, page: StatementPage) -> web.Response:
        kind = _accept_kind(ctx.accept)
        if kind == "csv":
            return web.Response(
                status=200, body=render_csv(page.entries()), headers={"content-type": "text/csv"}
            )
        if kind == "pdf":
            what = "Managed account" if ctx.op == "managedAccountStatement" else "Managed card"
            title = f"{what} {ctx.match['id']} statement ({page.count} entries)"
            return web.Response(
                status=200,
                body=render_pdf(title, page.entries()),
                headers={"content-type": "application/pdf"},
            )
        return _raw_json(200, orjson.dumps(page.body()))

    # ------------------------------------------------------------------ request parsing

    @staticmethod
    def _bad(ctx: _Ctx, problems: Problems) -> _BadRequest:
        return _BadRequest(Reply(400, problems.body(ctx.op in _SYNTAX_OPS)))

    def _json_body(self, ctx: _Ctx) -> Any:
        if not ctx.body.strip():
            return None
        try:
            return orjson.loads(ctx.body)
        except orjson.JSONDecodeError:
            problems = Problems()
            problems.add("body", "INVALID_REQUEST", "request body is not valid JSON")
            raise self._bad(ctx, problems) from None

    def _path_id(self, ctx: _Ctx, name: str = "id") -> str:
        value = ctx.match.get(name, "")
        if not DIGITS.match(value):
            problems = Problems()
            problems.add(name, "REGEX", f"{name} must match ^[0-9]+$")
            raise self._bad(ctx, problems)
        return value

    @staticmethod
    def _int(
        ctx: _Ctx,
        name: str,
        problems: Problems,
        minimum: int = _INT64[0],
        maximum: int = _INT64[1],
    ) -> int | None:
        raw = ctx.query.get(name)
        if raw is None:
            return None
        if not _INTEGER.match(raw):
            problems.add(name, "INVALID_TYPE_OR_VALUE", f"{name} must be an integer")
            return None
        value = int(raw)
        if value < minimum:
            problems.add(name, "AT_LEAST", f"{name} must be at least {minimum}")
            return None
        if value > maximum:
            problems.add(name, "AT_MOST", f"{name} must be at most {maximum}")
            return None
        return value

    @staticmethod
    def _bool(ctx: _Ctx, name: str, problems: Problems) -> bool | None:
        raw = ctx.query.get(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            problems.add(name, "INVALID_TYPE_OR_VALUE", f"{name} must be true or false")
            return None
        return raw == "true"

    @staticmethod
    def _enum(ctx: _Ctx, name: str, problems: Problems, values: tuple[str, ...]) -> str | None:
        raw = ctx.query.get(name)
        if raw is None:
            return None
        if raw not in values:
            problems.add(name, "IN", f"{name} must be one of {', '.join(values)}")
            return None
        return raw

    @staticmethod
    def _enum_list(
        ctx: _Ctx, name: str, problems: Problems, values: tuple[str, ...]
    ) -> frozenset[str] | None:
        raw = ctx.query.getall(name, [])
        if not raw:
            return None
        bad = [v for v in raw if v not in values]
        if bad:
            problems.add(name, "IN", f"{name} values must be among {', '.join(values)}")
            return None
        return frozenset(raw)

    def _paging(self, ctx: _Ctx, problems: Problems, limit_name: str, cap: int) -> tuple[int, int]:
        offset = self._int(ctx, "offset", problems, 0, _INT32_MAX)
        limit = self._int(ctx, limit_name, problems, 1, cap)
        served = 100 if limit is None else limit
        if self.page_cap is not None:
            served = min(served, self.page_cap)
        return (offset or 0), served

    # ------------------------------------------------------------------ handlers

    def _h_token(self, ctx: _Ctx) -> Result:
        reply = self._backend.issue_token(self._json_body(ctx))
        if reply.status == 200 and self.token_shape == "object":
            reply.body["token"] = {"token": reply.body["token"]}
        return reply

    def _h_account_get(self, ctx: _Ctx) -> Result:
        return self._backend.get_instrument(ctx.who, ACCOUNTS, self._path_id(ctx))

    def _h_card_get(self, ctx: _Ctx) -> Result:
        return self._backend.get_instrument(ctx.who, CARDS, self._path_id(ctx))

    def _h_statement(self, ctx: _Ctx) -> Result:
        inst_id = self._path_id(ctx)
        account = ctx.op == "managedAccountStatement"
        problems = Problems()
        offset, limit = self._paging(
            ctx, problems, "statementLimit" if account else "limit", 500 if account else 100
        )
        order = self._enum(ctx, "orderByTimestamp", problems, ("ASC", "DESC"))
        from_ts = self._int(ctx, "fromTimestamp", problems)
        to_ts = self._int(ctx, "toTimestamp", problems)
        if from_ts is not None and to_ts is not None and to_ts <= from_ts:
            problems.add(
                "toTimestamp",
                "INVALID_TYPE_OR_VALUE",
                "toTimestamp must be greater than fromTimestamp",
            )
        types = self._enum_list(ctx, "transactionType", problems, STATEMENT_TYPES)
        fund_only = self._bool(ctx, "showFundMovementsOnly", problems) if account else None
        single = self._bool(ctx, "singleEntryPerTransaction", problems)
        if problems:
            raise self._bad(ctx, problems)
        if single is None and _accept_kind(ctx.accept) == "pdf":
            single = True
        kinds: frozenset[int] | None = None
        if types is not None:
            kinds = frozenset(KIND[t] for t in types)
        if fund_only:
            kinds = (kinds if kinds is not None else _ALL_KINDS) - ZERO_ADJUSTMENT_KINDS
        if single:
            kinds = (kinds if kinds is not None else _ALL_KINDS) - PENDING_KINDS
        query = StatementQuery(offset, limit, order != "ASC", from_ts, to_ts, kinds)
        return self._backend.statement(
            ctx.who,
            ACCOUNTS if account else CARDS,
            inst_id,
            query,
            self.arrivals_per_statement_request,
        )

    def _h_card_block(self, ctx: _Ctx) -> Result:
        return self._backend.card_block(ctx.who, self._path_id(ctx))

    def _h_card_unblock(self, ctx: _Ctx) -> Result:
        return self._backend.card_unblock(ctx.who, self._path_id(ctx))

    def _h_card_remove(self, ctx: _Ctx) -> Result:
        return self._backend.card_remove(ctx.who, self._path_id(ctx))

    def _h_card_renewal(self, ctx: _Ctx) -> Result:
        card_id = self._path_id(ctx)
        return self._backend.card_renewal(ctx.who, card_id, self._json_body(ctx))

    def _h_rules_get(self, ctx: _Ctx) -> Result:
        return self._backend.rules_get(ctx.who, self._path_id(ctx))

    def _h_rules_create(self, ctx: _Ctx) -> Result:
        card_id = self._path_id(ctx)
        return self._backend.rules_create(ctx.who, card_id, self._json_body(ctx))

    def _h_rules_update(self, ctx: _Ctx) -> Result:
        card_id = self._path_id(ctx)
        return self._backend.rules_update(ctx.who, card_id, self._json_body(ctx))

    def _h_rules_delete(self, ctx: _Ctx) -> Result:
        return self._backend.rules_delete(ctx.who, self._path_id(ctx))

    def _h_transfer_create(self, ctx: _Ctx) -> Result:
        return self._backend.transfer_create(ctx.who, self._json_body(ctx))

    def _h_transfers(self, ctx: _Ctx) -> Result:
        problems = Problems()
        offset, limit = self._paging(ctx, problems, "limit", 100)
        profile = ctx.query.get("profileId")
        if profile is not None and not DIGITS.match(profile):
            problems.add("profileId", "REGEX", "profileId must match ^[0-9]+$")
        inst_id, inst_type = ctx.query.get("id"), ctx.query.get("type")
        instrument = None
        if inst_id is not None or inst_type is not None:
            if inst_id is None or not DIGITS.match(inst_id):
                problems.add("instrumentId.id", "REGEX", "instrumentId.id must match ^[0-9]+$")
            elif inst_type not in (ACCOUNTS, CARDS):
                problems.add(
                    "instrumentId.type", "IN", "instrumentId.type must be an instrument type"
                )
            else:
                instrument = (inst_type, inst_id)
        states = self._enum_list(ctx, "state", problems, TRANSACTION_STATES)
        created_from = self._int(ctx, "createdFrom", problems)
        created_to = self._int(ctx, "createdTo", problems)
        tag = ctx.query.get("tag")
        if tag is not None and (len(tag) > 50 or not _TAG.match(tag)):
            problems.add("tag", "REGEX", "tag must match ^[a-zA-Z0-9_-]+$ (at most 50 characters)")
        if problems:
            raise self._bad(ctx, problems)
        query = TransfersQuery(
            offset, limit, profile, instrument, states, created_from, created_to, tag
        )
        return self._backend.transfers_list(ctx.who, query, self.arrivals_per_transfers_request)

    def _h_transfer_get(self, ctx: _Ctx) -> Result:
        return self._backend.transfer_get(ctx.who, self._path_id(ctx))

    def _h_fee(self, ctx: _Ctx) -> Result:
        required = {"corporateChargeFee": "CORPORATE", "consumerChargeFee": "CONSUMER"}.get(ctx.op)
        if required is not None and ctx.who.type != required:
            return forbidden()
        return self._backend.charge_fee(ctx.who, self._json_body(ctx), ctx.op in _SYNTAX_OPS)

    def _h_user_create(self, ctx: _Ctx) -> Result:
        return self._backend.user_create(ctx.who, self._json_body(ctx))

    def _h_user_invite(self, ctx: _Ctx) -> Result:
        return self._backend.user_invite(ctx.who, self._path_id(ctx, "user_id"))

    def _h_user_deactivate(self, ctx: _Ctx) -> Result:
        return self._backend.user_deactivate(ctx.who, self._path_id(ctx, "user_id"))

    def _h_bulk_transfers(self, ctx: _Ctx) -> Result:
        return self._backend.bulk_submit(ctx.who, "transfers", self._json_body(ctx))

    def _h_bulk_rules(self, ctx: _Ctx) -> Result:
        return self._backend.bulk_submit(ctx.who, "spend_rules", self._json_body(ctx))

    def _h_bulks(self, ctx: _Ctx) -> Result:
        problems = Problems()
        offset, limit = self._paging(ctx, problems, "limit", 100)
        status = self._enum(ctx, "status", problems, BULK_STATUSES)
        if problems:
            raise self._bad(ctx, problems)
        return self._backend.bulks_list(ctx.who, BulksQuery(offset, limit, status))

    def _h_bulk_get(self, ctx: _Ctx) -> Result:
        return self._backend.bulk_get(ctx.who, self._path_id(ctx, "bulk_id"))

    def _h_bulk_ops(self, ctx: _Ctx) -> Result:
        bulk_id = self._path_id(ctx, "bulk_id")
        problems = Problems()
        offset, limit = self._paging(ctx, problems, "limit", 100)
        sequence = self._int(ctx, "sequence", problems)
        status = self._enum(ctx, "status", problems, BULK_OP_STATUSES)
        if problems:
            raise self._bad(ctx, problems)
        query = BulkOpsQuery(offset, limit, sequence, status)
        return self._backend.bulk_operations(ctx.who, bulk_id, query)

    def _h_bulk_execute(self, ctx: _Ctx) -> Result:
        bulk_id = self._path_id(ctx, "bulk_id")
        return self._backend.bulk_execute(ctx.who, bulk_id, self._json_body(ctx) or {})

    def _h_bulk_pause(self, ctx: _Ctx) -> Result:
        return self._backend.bulk_transition(ctx.who, self._path_id(ctx, "bulk_id"), "pause")

    def _h_bulk_resume(self, ctx: _Ctx) -> Result:
        return self._backend.bulk_transition(ctx.who, self._path_id(ctx, "bulk_id"), "resume")

    def _h_bulk_cancel(self, ctx: _Ctx) -> Result:
        return self._backend.bulk_transition(ctx.who, self._path_id(ctx, "bulk_id"), "cancel")


_ALL_KINDS: frozenset[int] = frozenset(range(len(STATEMENT_TYPES)))


def _json(status: int, body: Any) -> web.Response:
    return _raw_json(status, orjson.dumps(body))


def _raw_json(status: int, payload: bytes | None) -> web.Response:
    if payload is None:
        return web.Response(status=status)
    return web.Response(status=status, body=payload, headers={"content-type": "application/json"})


def _accept_kind(accept: str) -> str:
    """'csv', 'pdf' or 'json' from an Accept header (first recognised media type wins)."""
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media == "text/csv":
            return "csv"
        if media == "application/pdf":
            return "pdf"
        if media == "application/json":
            return "json"
    return "json"
