"""`FakeBackOffice`: the simulator's front — its lifecycle, seeding, knobs and inspection."""

from __future__ import annotations

import random
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

from aiohttp import web

from . import _bulks, _identities, _instruments, _transfers, _users
from ._app import Pipeline, RequestValidator, ResponseValidator
from ._books import BOOK_FAULTS, BookFault, corrupt, record_statement_transfers
from ._entities import ACCOUNTS, CARDS, StoredIdentity, StoredInstrument, StoredUser
from ._faults import Faults
from ._rate_limit import RateLimiter
from ._records import (
    HISTORY_END_MS,
    IdentityType,
    RecordedRequest,
    SeededIdentity,
    SeededInstrument,
    SeededUser,
)
from ._routes import BASE_PATH, OPERATION_IDS
from ._store import Store
from ._webhooks import WebhookDelivery, WebhookSender, loopback_url

__all__ = ["ContractViolation", "FakeBackOffice"]

IdentityLike = SeededIdentity | str
InstrumentLike = SeededInstrument | str
_T = TypeVar("_T")


class ContractViolation(AssertionError):
    """The simulator answered off-contract: ``violations`` lists each answer and what was
    wrong with it (raised by ``raise_for_violations``, and on leaving a strict simulator)."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = list(violations)
        shown = "\n".join(self.violations[:10])
        more = len(self.violations) - 10
        tail = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"the simulator answered off-contract:\n{shown}{tail}")


class FakeBackOffice:
    """Embedded simulator of the Weavr Multi BackOffice API v3 on a local aiohttp server.

    Use it as an async context manager (or ``start``/``close``); seed identities, instruments,
    histories, transfers and users with the ``add_*`` methods, then point a client at ``url``
    with ``api_key``. State is in memory and deterministic for a given ``seed``.

    ``request_validator`` vets each request before anything else (a message: answered 400);
    ``response_validator`` vets each answer the operations give (auth, idempotent replays and
    handlers, not injected faults or the rate limiter, which are off-contract on purpose),
    and its messages collect in ``response_violations``.

    ``strict=True`` sets both to the contract's own checks (`weavr_async.testing.contract`,
    which needs ``pip install 'weavr-async[strict]'``): a request that breaks the contract is
    answered 400 with what is wrong, and leaving the ``async with`` block raises
    `ContractViolation` if any answer broke it. The two bulk submissions are exempt for their
    400 and 401, which the contract does not declare though the API answers them.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        request_validator: RequestValidator | None = None,
        response_validator: ResponseValidator | None = None,
        token_shape: Literal["object", "string"] = "object",
        history_end_ms: int = HISTORY_END_MS,
        strict: bool = False,
    ) -> None:
        if strict:
            if request_validator is not None or response_validator is not None:
                raise ValueError("strict=True brings its own validators: pass one or the other")
            from .contract import make_request_validator, make_response_validator

            request_validator, response_validator = (
                make_request_validator(),
                make_response_validator(),
            )
        self.seed = seed
        self._strict = strict
        self._store = Store(seed, {"MONTHLY_FEE": 250, "CUSTOM_FEE": 100}, history_end_ms)
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
        self._limiter = RateLimiter()
        self._pipeline = Pipeline(self, self._store, self._limiter)
        self._runner: web.AppRunner | None = None

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

    @property
    def strict(self) -> bool:
        """Whether the contract checks every request and answer (``strict=True``)."""
        return self._strict

    def make_app(self) -> web.Application:
        """Build the aiohttp application (routes named by operationId)."""
        return self._pipeline.make_app()

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

    def raise_for_violations(self) -> None:
        """Raise `ContractViolation` if ``response_violations`` holds any."""
        if self.response_violations:
            raise ContractViolation(self.response_violations)

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
        if self._strict and exc is None:
            self.raise_for_violations()

    # ------------------------------------------------------------------ seeding

    def add_identity(
        self, identity_type: str = "CORPORATE", *, name: str | None = None
    ) -> SeededIdentity:
        """Create a CORPORATE or CONSUMER identity."""
        ident = _identities.add_identity(self._store, identity_type, name)
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
        owner = self._identity(identity)
        inst = _instruments.add_account(self._store, owner, currency, history, friendly_name)
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
        inst = _instruments.add_card(
            self._store, self._identity(identity), currency, history, mode, parent, friendly_name
        )
        return SeededInstrument(inst.id, CARDS, inst.identity.id, inst.currency, inst.mode)

    def add_transfers(self, identity: IdentityLike, count: int = 100) -> None:
        """Seed ``count`` past transfer records (records only; ledgers are not touched)."""
        _transfers.seed_transfers(self._store, self._identity(identity), count)

    def add_user(
        self,
        identity: IdentityLike,
        email: str | None = None,
        *,
        name: str = "Test",
        surname: str = "User",
    ) -> SeededUser:
        """Create an active authorised user of ``identity``."""
        email = email or f"user{len(self._store.users) + 1}.{self.seed}@example.com"
        user = _users.add_user(self._store, self._identity(identity), email, name, surname)
        return SeededUser(user.id, user.identity.id, user.email)

    # ------------------------------------------------------------------ knobs and inspection

    @property
    def fee_types(self) -> dict[str, int]:
        """Fee types accepted by fee charging, with their amounts in minor units."""
        return self._store.fee_types

    @fee_types.setter
    def fee_types(self, value: dict[str, int]) -> None:
        self._store.fee_types = value

    @property
    def bulk_auto_run(self) -> bool:
        """True: execute/resume run all operations at once; False: use ``advance_bulks``."""
        return self._store.bulk_auto_run

    @bulk_auto_run.setter
    def bulk_auto_run(self, value: bool) -> None:
        self._store.bulk_auto_run = value

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
        self._store.bulk_listener = None if url is None else self._webhooks.bulk_changed

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """The deliveries made so far, in order, with the receiver's answer to each."""
        return self._webhooks.deliveries

    async def flush_webhooks(self) -> None:
        """Wait until every queued webhook delivery is made (at most 10 s)."""
        await self._webhooks.flush()

    def now_ms(self) -> int:
        """The simulator clock (epoch ms; never earlier than the newest entry + 1)."""
        return self._store.now_ms()

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
        owner = None if identity is None else self._identity(identity)
        _identities.expire_tokens(self._store, owner)

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
        self._limiter.set_limits(limits)

    def advance_bulks(self, n_operations: int = 1) -> int:
        """Run the next ``n_operations`` of RUNNING bulks; returns how many ran."""
        return _bulks.advance_bulks(self._store, n_operations)

    def instrument_balance(self, instrument: InstrumentLike) -> int:
        """Current balance (available == actual) of an instrument; 0 for DEBIT_MODE cards."""
        return self._instrument(instrument).balance

    def ledger(self, instrument: InstrumentLike) -> list[dict[str, Any]]:
        """All statement entries of an instrument, oldest first, exactly as served."""
        return _instruments.ledger_entries(self._instrument(instrument))

    def post_transactions(
        self, instrument: InstrumentLike, n: int = 1, *, at: int | None = None
    ) -> None:
        """Append ``n`` random new entries to the instrument at the simulator's now; with
        ``at`` (epoch ms), insert ``n`` back-dated credits at that time instead, inside the
        history, as a late posting would (for testing walks that must repair)."""
        _instruments.post_transactions(self._store, self._instrument(instrument), n, at)

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
        return record_statement_transfers(self._store, self._instrument(instrument))

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
        return corrupt(self._store, self._instrument(instrument), fault)

    def _identity(self, identity: IdentityLike) -> StoredIdentity:
        return _named(self._store.identities, identity, "identity")

    def _instrument(self, instrument: InstrumentLike) -> StoredInstrument:
        return _named(self._store.instruments, instrument, "instrument")

    def _user(self, user: SeededUser | str) -> StoredUser:
        return _named(self._store.users, user, "user")


def _named(table: dict[str, _T], key: IdentityLike | InstrumentLike | SeededUser, what: str) -> _T:
    """The entity a seeded record (or its id) names; KeyError when there is none."""
    name = key if isinstance(key, str) else key.id
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown {what} {name}") from None
