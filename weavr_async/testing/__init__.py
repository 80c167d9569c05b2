"""Embedded simulator of the Weavr Multi BackOffice API v3, for tests and benchmarks.

``FakeBackOffice`` runs a real aiohttp server on 127.0.0.1 (random port) that implements all 32
operations of the contract over in-memory state. It is self-contained (it never imports the
SDK client) and deterministic: ids, histories, tokens and the API key derive from ``seed``::

    async with FakeBackOffice(seed=1) as fake:
        ident = fake.add_identity("CORPORATE")
        acct = fake.add_managed_account(ident, currency="EUR", history=50_000)
        card = fake.add_managed_card(ident, history=1_000)
        fake.add_transfers(ident, count=500)
        # point any HTTP client at fake.url with header api-key: fake.api_key

Semantics worth knowing:

* Auth: ``api-key`` must equal ``fake.api_key`` (else 401, empty body); every operation but
  ``POST /access_token`` also needs ``Authorization: Bearer <token>`` of a live token. The
  token decides the identity: another identity's records answer 403, unknown ids 404.
* Statements: a timestamp window is half-open, ``fromTimestamp <= processedTimestamp <
  toTimestamp``; order is by processedTimestamp (DESC by default), ties by insertion order
  (reversed for DESC); filters apply before ``offset``/limit. ``count`` is the number of
  matching entries; ``startBalance``/``endBalance`` are the balances before the first and
  after the last entry of the timestamp window (type filters do not change them) and are
  omitted for DEBIT_MODE cards, whose entries also carry no balances. Available and actual
  balances are always equal; AUTHORISATION entries are PENDING and, like authorisation
  reversals/expiries/declines, move no funds (``showFundMovementsOnly=true`` hides those,
  ``singleEntryPerTransaction=true`` hides PENDING entries; it defaults to true for PDF).
* Seeded histories span ~3 years ending at ``history_end_ms`` (default ``HISTORY_END_MS``,
  a fixed date, so a seed always gives the same history). New entries (transfers, fees,
  arrivals, ``post_transactions``) get the simulator's now, strictly after the instrument's
  newest entry. ``now_ms()`` is real time but never earlier than the newest entry + 1.
* Transfers created through the API move money (a TRANSFER entry on both instruments, with
  the transfer id as transaction id); a future ``scheduledTimestamp`` gives SCHEDULED and the
  transfer runs on the first request after it is due (FAILED if it no longer can). Transfers
  seeded by ``add_transfers`` and those from ``arrivals_per_transfers_request`` are records
  only: they never touch ledgers. ``GET /transfers`` is newest first; its ``id``/``type``
  filter (the form-exploded ``instrumentId``) matches the source instrument, and
  ``createdFrom``/``createdTo`` form a half-open window too.
* Books for reconciliation (``weavr_async.reconcile``): seeded TRANSFER entries have no
  transfers behind them until ``record_statement_transfers(instrument)`` files one for each
  (COMPLETED, same id, amount and time, the other side outside the programme).
  ``corrupt(instrument, fault)`` plants one fault that makes exactly one check fail:
  ``break_chain`` (balance_chain), ``misstate_end_balance`` (balance_equation),
  ``duplicate_entry`` (unique_transactions), ``drop_entry`` (count: the newest entry is
  counted, never served), ``lose_transfer`` (transfers_on_statement), ``forget_transfer``
  (statement_transfers_known).
* Fees: ``fee_types`` maps fee type to amount; a fee adds a CHARGE_FEE entry. DEBIT_MODE cards
  and destroyed instruments answer UNRESOLVED_INSTRUMENT; a fee type worth 0 answers
  FEE_AMOUNT_NOT_SET.
* Spend rules: PATCH merges into the current rules; ``spendLimit`` is replaced as a whole
  (OVERWRITE, the default) or added per interval (INCREMENT). A DEBIT_MODE card's
  ``availableToSpend`` mirrors its spend limits (spending is not tracked).
* Bulks: operations are validated when they run, not when submitted. With ``bulk_auto_run``
  (default) execute/resume run everything at once; otherwise ``advance_bulks(n)`` runs the
  next n operations of RUNNING bulks. Final status: COMPLETED when every operation completed,
  FAILED when none did, PARTIALLY_COMPLETED otherwise. ON_FAILURE_STOP marks the operations
  after the first failure CANCELLED; cancel marks every unfinished operation CANCELLED.
* Webhooks: set ``webhook_url`` (a loopback URL) and executed bulk processes POST their
  progress there, signed with ``api_key`` as Weavr signs webhooks (``weavr_async.webhooks``):
  the BulkProcessDetails JSON on each state change, and every ``webhookInterval`` operations.
  ``webhook_deliveries`` records each with the receiver's status; ``flush_webhooks()`` waits.
* Idempotency: for operations declaring ``idempotency-ref``, a repeat of (identity,
  operation, ref, body bytes) replays the stored status and body (``idempotent_replays``).
* Pipeline per request: record -> latency/slow delay -> ``request_validator`` -> rate limiter
  -> scripted/random faults -> auth -> idempotency replay -> handler -> (drop after commit)
  -> ``response_validator`` (answers of auth, replay and handlers only; its messages go to
  ``response_violations``). Dropped requests are recorded with status 0. Note that
  aiohttp's own client retries an idempotent request once when its connection is dropped.
* Strict mode: ``FakeBackOffice(strict=True)`` sets ``request_validator`` and
  ``response_validator`` to the contract's checks (`weavr_async.testing.contract`, over the
  OpenAPI document shipped in the package; ``pip install 'weavr-async[strict]'``). A request
  breaking the contract is answered 400 ``{"message": <what is wrong>}``; an answer of the
  simulator's own that breaks it goes to ``response_violations``, and leaving the ``async
  with`` block raises `ContractViolation` listing them (``raise_for_violations()`` does the
  same after ``start``/``close``). Exempt, as the contract declares no error for them: the
  400 and 401 of the two bulk submissions (``contract.UNDECLARED_RESPONSES``).
"""

from ._app import RequestValidator, ResponseValidator
from ._backoffice import ContractViolation, FakeBackOffice
from ._faults import FaultAction, Faults
from ._records import (
    HISTORY_END_MS,
    RecordedRequest,
    SeededIdentity,
    SeededInstrument,
    SeededUser,
)
from ._routes import BASE_PATH
from ._webhooks import WebhookDelivery

__all__ = [
    "BASE_PATH",
    "HISTORY_END_MS",
    "ContractViolation",
    "FakeBackOffice",
    "FaultAction",
    "Faults",
    "RecordedRequest",
    "RequestValidator",
    "ResponseValidator",
    "SeededIdentity",
    "SeededInstrument",
    "SeededUser",
    "WebhookDelivery",
]
