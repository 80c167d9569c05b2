"""The chaos harness: one storm of concurrent statement walks and writes against a faulty
simulator, then the checks that every entry, every write and every failure is accounted for.

A storm runs, all at once, on one client:

* statement walks of accounts and cards, ASC and DESC, raw and decoded, while entries arrive
  (``arrivals_per_statement_request`` switches between 0 and more during the storm); a walk
  that fails resumes from its checkpoint;
* transfers and fee charges, each with an idempotency ref of its own; a call that surfaced an
  error is re-issued after the storm, faults off, with the same ref;
* block/unblock sequences on cards (no idempotency ref): after an error the card's state is
  read back before the next step;
* a chaos clock: a 5xx burst, a 429 storm from the simulator's own rate limiter (with reset
  headers), every token revoked, 502s with HTML bodies, dropped connections before and after
  the commit, garbage bodies; on top of the random rates of the `Profile`.

Then: every walk equals the simulator's ledger as of the walk's snapshot (no duplicate, no
loss, in order); every logical write is applied exactly once (ledger and balances); no
block/unblock call was sent twice where the first may have been applied; every failure was a
`WeavrError`; no SDK task is left; and a walk on the same connection pool still completes at
once (no connection leaked). Every await is bounded by `asyncio.wait_for`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiohttp
import attrs
import orjson

import weavr_async
from weavr_async import (
    BackOffice,
    Conflict,
    CurrencyAmount,
    Identity,
    IdentitySession,
    InstrumentRef,
    RateBudget,
    Retry,
    StatementEntry,
    WeavrError,
)
from weavr_async._pagination import PAGE_TASK_NAME
from weavr_async.testing import FakeBackOffice, SeededInstrument

T = TypeVar("T")

CALL_DEADLINE = 15.0  # one logical call, retries included: far beyond any legitimate run
WALK_DEADLINE = 20.0  # one walk attempt
SETTLE_DEADLINE = 10.0
TOKEN_TASK_NAME = "weavr-access-token"
_SDK_DIR = Path(weavr_async.__file__).parent


@attrs.frozen
class Profile:
    """How hostile the simulator is, and how patient the client."""

    name: str
    error_rate: float
    rate_limit_rate: float
    drop_rate: float
    drop_after_commit_rate: float
    malformed_rate: float
    slow_rate: float
    slow_seconds: float
    timeout: float
    retry: Retry
    walk_attempts: int
    rate_limit: tuple[int, float]  # the 429 storm: this many requests per window (seconds)

    @property
    def nominal_rate(self) -> float:
        return (
            self.error_rate
            + self.rate_limit_rate
            + self.drop_rate
            + self.drop_after_commit_rate
            + self.malformed_rate
            + self.slow_rate
        )

    def arm(self, fake: FakeBackOffice) -> None:
        faults = fake.faults
        faults.error_rate = self.error_rate
        faults.rate_limit_rate = self.rate_limit_rate
        faults.drop_rate = self.drop_rate
        faults.drop_after_commit_rate = self.drop_after_commit_rate
        faults.malformed_rate = self.malformed_rate
        faults.slow_rate = self.slow_rate
        faults.slow_seconds = self.slow_seconds


# About 4% of requests faulted at random; the client is patient: everything must succeed.
REALISTIC = Profile(
    name="realistic",
    error_rate=0.015,
    rate_limit_rate=0.005,
    drop_rate=0.005,
    drop_after_commit_rate=0.005,
    malformed_rate=0.01,
    slow_rate=0.005,
    slow_seconds=0.7,
    timeout=0.4,
    # A 429 closes the client's budget for its reset (1 s here): the patient client waits it,
    # and the next closure too: during the burst, requests that were in flight when the gate
    # closed come back 429 and the limiter still counts them when it reopens, so a call may
    # meet two closures back to back (CI once saw 2 writes of 68 give up at 1.5 s).
    retry=Retry(max_attempts=12, base_delay=0.005, max_delay=0.05, max_rate_limit_wait=2.5),
    walk_attempts=1,
    rate_limit=(40, 0.25),
)

# About 27% faulted; the client gives up fast, and each 429 waits alone (the realistic client
# keeps the default shared gate: both ways of waiting out 429s are stormed).
HOSTILE = Profile(
    name="hostile",
    error_rate=0.08,
    rate_limit_rate=0.05,
    drop_rate=0.03,
    drop_after_commit_rate=0.03,
    malformed_rate=0.05,
    slow_rate=0.03,
    slow_seconds=0.5,
    timeout=0.3,
    retry=Retry(
        max_attempts=2,
        base_delay=0.002,
        max_delay=0.01,
        max_rate_limit_wait=0.05,
        adaptive_rate_limit=False,
    ),
    walk_attempts=60,
    rate_limit=(30, 0.25),
)


# -- outcomes -------------------------------------------------------------------------------


@attrs.define
class Tally:
    """Every failure a call surfaced, by class: `WeavrError`s, and anything else (a bug)."""

    typed: Counter[str] = attrs.field(factory=Counter)
    untyped: Counter[str] = attrs.field(factory=Counter)
    examples: list[str] = attrs.field(factory=list)

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, WeavrError):
            self.typed[type(exc).__name__] += 1
        else:
            self.untyped[f"{type(exc).__module__}.{type(exc).__qualname__}"] += 1
            if len(self.examples) < 5:
                self.examples.append(repr(exc))

    async def guarded(
        self, call: Awaitable[T], deadline: float
    ) -> tuple[T | None, BaseException | None]:
        """Run one call within `deadline`; its failure, classified, instead of raising."""
        try:
            return await asyncio.wait_for(call, deadline), None
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the storm itself is being torn down
            self.failed(exc)  # a CancelledError nobody asked for escaped the SDK
            return None, exc
        except BaseException as exc:  # classify everything: nothing may escape untyped
            self.failed(exc)
            return None, exc


@attrs.define
class WalkPlan:
    instrument: SeededInstrument
    order: Literal["ASC", "DESC"]
    page_size: int
    concurrency: int
    typed: bool


@attrs.define
class WalkResult:
    plan: WalkPlan
    got: list[Any]
    pin: int | None
    completed: bool
    resumes: int


@attrs.define
class Write:
    """One logical idempotent call: a transfer or a fee charge, with its own ref."""

    kind: Literal["transfer", "fee"]
    index: int
    ref: str
    session: IdentitySession
    source: SeededInstrument
    destination: SeededInstrument | None
    amount: int
    result_id: str | None = None
    error: str | None = None

    async def call(self) -> str:
        """Send it (again): the same ref and the same body every time."""
        source = InstrumentRef.managed_account(self.source.id)
        if self.kind == "transfer":
            assert self.destination is not None
            transfer = await self.session.transfers.create(
                profile_id="1",
                source=source,
                destination=InstrumentRef.managed_account(self.destination.id),
                amount=CurrencyAmount("EUR", self.amount),
                description=f"chaos {self.index}",
                idempotency_ref=self.ref,
            )
            return transfer.id
        charge = await self.session.fees.charge("CUSTOM_FEE", source, idempotency_ref=self.ref)
        return charge.transaction_id.id


@attrs.define
class Toggles:
    """Block/unblock steps on one card, without idempotency refs."""

    card: SeededInstrument
    session: IdentitySession
    calls: int = 0
    failures: int = 0
    conflicts: int = 0
    worst_sends: int = 0  # the most attempts of one call that may have been applied
    state: str = "ACTIVE"


@attrs.define
class Storm:
    """The scenario's world: simulator, client, what runs and what it yielded."""

    fake: FakeBackOffice
    profile: Profile
    bo: BackOffice
    http: aiohttp.ClientSession
    connector: aiohttp.TCPConnector
    tally: Tally = attrs.field(factory=Tally)
    walks: list[WalkResult] = attrs.field(factory=list)
    writes: list[Write] = attrs.field(factory=list)
    toggles: list[Toggles] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)
    burst: tuple[int, int] = (0, 0)
    reissued: int = 0  # writes that failed in the storm and were sent again after it
    figures: dict[str, object] = attrs.field(factory=dict)

    @property
    def resumes(self) -> int:
        """How many times the walks resumed from a checkpoint."""
        return sum(w.resumes for w in self.walks)


# -- the storm ------------------------------------------------------------------------------


MAX_CONCURRENCY = 8
BURST = 48  # reads at once, more than either profile's limiter allows in a window: a storm


async def run_storm(fake: FakeBackOffice, profile: Profile) -> Storm:
    """Seed, storm, settle, check; returns the storm with its `problems` and `figures`."""
    connector = aiohttp.TCPConnector(limit=MAX_CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as http:
        bo = BackOffice(
            api_key=fake.api_key,
            base_url=fake.url,
            session=http,
            timeout=profile.timeout,
            retry=profile.retry,
            max_concurrency=MAX_CONCURRENCY,
            page_concurrency=4,
            budget=RateBudget.unlimited(),
        )
        async with bo:
            storm = Storm(fake, profile, bo, http, connector)
            await _run(storm)
    return storm


async def _run(storm: Storm) -> None:
    fake, profile, bo = storm.fake, storm.profile, storm.bo
    acme, globex = fake.add_identity("CORPORATE"), fake.add_identity("CONSUMER")
    sessions = {
        acme.id: bo.identity(Identity.corporate(acme.id)),
        globex.id: bo.identity(Identity.consumer(globex.id)),
    }

    # Walked instruments (entries arrive on them while they are walked).
    walked: list[tuple[SeededInstrument, int, int]] = [
        (fake.add_managed_account(acme, history=1_500), 100, 4),
        (fake.add_managed_account(acme, history=700), 60, 3),
        (fake.add_managed_card(acme, history=600), 50, 4),
        (fake.add_managed_card(acme, history=250), 40, 2),
        (fake.add_managed_account(globex, history=1_100), 100, 3),
        (fake.add_managed_card(globex, history=450), 50, 3),
    ]
    plans = [
        WalkPlan(inst, order, size, workers, typed=(n + (order == "ASC")) % 2 == 0)
        for n, (inst, size, workers) in enumerate(walked)
        for order in ("ASC", "DESC")
    ]

    # Written instruments (never walked during the storm, so their balances are ours).
    for ident, transfers, fees in ((acme, 24, 16), (globex, 16, 12)):
        session = sessions[ident.id]
        source = fake.add_managed_account(ident, history=40)
        target = fake.add_managed_account(ident)
        charged = fake.add_managed_account(ident, history=40)
        for i in range(transfers):
            index = len(storm.writes)
            storm.writes.append(
                Write("transfer", index, _ref(profile, index), session, source, target, 1_000 + i)
            )
        for _ in range(fees):
            index = len(storm.writes)
            amount = fake.fee_types["CUSTOM_FEE"]
            storm.writes.append(
                Write("fee", index, _ref(profile, index), session, charged, None, amount)
            )
    cards = [(acme, 4), (globex, 2)]
    for ident, n in cards:
        for _ in range(n):
            card = fake.add_managed_card(ident)
            storm.toggles.append(Toggles(card, sessions[ident.id]))

    before = _Balances.of(fake, storm.writes)
    ledger_sizes = {inst.id: len(fake.ledger(inst)) for inst in before.instruments}
    need = Counter[str]()
    for w in storm.writes:
        need[w.source.id] += w.amount
    assert all(before.balance[i] > n for i, n in need.items()), "seed more: a source cannot pay"

    profile.arm(fake)
    loop = asyncio.get_running_loop()
    started = loop.time()
    clock = asyncio.create_task(_chaos_clock(fake, profile), name="chaos-clock")
    jobs = [
        *(_walk(storm, plan, sessions[plan.instrument.identity_id]) for plan in plans),
        # Writes spread over ~1 s: the clock's scripted faults (until 0.8 s) all find requests.
        *(_write(storm, w, delay=0.015 * w.index) for w in storm.writes),
        *(_toggle(storm, t, steps=6) for t in storm.toggles),
        _burst(storm, sessions[acme.id], walked[1][0], at=0.21, size=BURST),
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*jobs), 3 * WALK_DEADLINE)
    finally:
        clock.cancel()
        await asyncio.gather(clock, return_exceptions=True)
    storm_seconds = loop.time() - started

    # Settle: faults off, and every slow request still sleeping in the simulator has landed.
    fake.faults.clear()
    fake.set_rate_limit(None)
    fake.arrivals_per_statement_request = 0
    await asyncio.sleep(profile.slow_seconds + 0.2)

    failed_writes = [w for w in storm.writes if w.result_id is None]
    storm.reissued = len(failed_writes)
    for w in failed_writes:
        result, exc = await storm.tally.guarded(w.call(), CALL_DEADLINE)
        if exc is not None:
            storm.problems.append(
                f"{w.kind} #{w.index} ({w.error} in the storm) failed when re-issued: {exc!r}"
            )
        w.result_id = result

    _check_walks(storm)
    _check_writes(storm, before, ledger_sizes)
    await _check_toggles(storm)
    _check_tasks(storm)
    leak_seconds = await _check_pool(storm, walked[0][0], Identity.corporate(acme.id))

    _figures(storm, storm_seconds, leak_seconds)


def _ref(profile: Profile, index: int) -> str:
    return f"chaos-{profile.name}-{index:04d}"


async def _chaos_clock(fake: FakeBackOffice, profile: Profile) -> None:
    """Scripted trouble on top of the random rates, at fixed times into the storm."""
    limit, window = profile.rate_limit
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    events: list[tuple[float, Callable[[], None]]] = [
        (0.00, lambda: setattr(fake, "arrivals_per_statement_request", 2)),
        (0.10, lambda: fake.faults.script(status=503, count=10)),
        (0.20, lambda: fake.set_rate_limit(limit, window)),  # and a burst of reads at 0.21
        (0.35, lambda: fake.expire_tokens()),
        (0.45, lambda: fake.faults.script(status=502, count=6, headers=_HTML, body=html)),
        (0.50, lambda: setattr(fake, "arrivals_per_statement_request", 0)),
        (0.60, lambda: fake.faults.script_drop(count=3)),
        (0.65, lambda: fake.faults.script_drop(count=3, after_commit=True)),
        (0.70, lambda: fake.faults.script_malformed(count=3, kind="garbage")),
        (0.75, lambda: fake.faults.script(status=500, count=8)),
        (0.80, lambda: setattr(fake, "arrivals_per_statement_request", 1)),
    ]
    loop = asyncio.get_running_loop()
    start = loop.time()
    for at, act in events:
        await asyncio.sleep(max(0.0, start + at - loop.time()))
        act()


_HTML = {"content-type": "text/html"}


# -- the jobs -------------------------------------------------------------------------------


def entry_key(entry: StatementEntry) -> tuple[str, str, int, int]:
    return (
        entry.transaction_id.type,
        entry.transaction_id.id,
        entry.processed_timestamp,
        entry.transaction_amount.amount,
    )


def raw_key(entry: dict[str, Any]) -> tuple[str, str, int, int]:
    return (
        entry["transactionId"]["type"],
        entry["transactionId"]["id"],
        entry["processedTimestamp"],
        entry["transactionAmount"]["amount"],
    )


async def _walk(storm: Storm, plan: WalkPlan, session: IdentitySession) -> None:
    inst = plan.instrument
    resource: Any = (
        session.managed_accounts if inst.kind == "managed_accounts" else session.managed_cards
    )
    got: list[Any] = []
    checkpoint = None
    for attempt in range(storm.profile.walk_attempts):
        stream = resource.statement(
            inst.id,
            order=plan.order,
            page_size=plan.page_size,
            concurrency=plan.concurrency,
            checkpoint=checkpoint,
        )

        async def consume(stream: Any = stream) -> None:
            if plan.typed:
                async with aclosing(stream.__aiter__()) as entries:
                    async for entry in entries:
                        got.append(entry_key(entry))
            else:
                async with aclosing(stream.raw()) as raw:
                    async for item in raw:
                        got.append(item)

        _, exc = await storm.tally.guarded(consume(), WALK_DEADLINE)
        if exc is None:
            storm.walks.append(WalkResult(plan, got, stream.checkpoint.pin, True, attempt))
            return
        checkpoint = stream.checkpoint
    storm.walks.append(WalkResult(plan, got, None, False, storm.profile.walk_attempts))


async def _write(storm: Storm, write: Write, *, delay: float) -> None:
    await asyncio.sleep(delay)
    result, exc = await storm.tally.guarded(write.call(), CALL_DEADLINE)
    write.result_id = result
    if exc is not None:
        write.error = type(exc).__name__


async def _burst(
    storm: Storm, session: IdentitySession, account: SeededInstrument, *, at: float, size: int
) -> None:
    """Just after the simulator's rate limiter comes on: many reads at once, a 429 storm
    whatever the machine's speed."""
    await asyncio.sleep(at)
    calls = [
        storm.tally.guarded(session.managed_accounts.get(account.id), CALL_DEADLINE)
        for _ in range(size)
    ]
    results = await asyncio.gather(*calls)
    # Off once the burst is through: a 429 the client met before the limiter came on closes
    # its budget for a second, which may hold the burst back past any fixed time.
    storm.fake.set_rate_limit(None)
    ok = sum(1 for got, exc in results if exc is None and got is not None and got.id == account.id)
    storm.burst = (ok, size)


async def _toggle(storm: Storm, toggles: Toggles, *, steps: int) -> None:
    fake = storm.fake
    card = toggles.card
    cards = toggles.session.managed_cards
    for _ in range(steps):
        verb = "block" if toggles.state == "ACTIVE" else "unblock"
        action = cards.block if verb == "block" else cards.unblock
        mark = len(fake.requests)
        toggles.calls += 1
        _, exc = await storm.tally.guarded(action(card.id), CALL_DEADLINE)
        # Attempts of this call that the simulator may have applied: all but the refusals.
        path = f"/managed_cards/{card.id}/{verb}"
        sent = [r for r in fake.requests[mark:] if r.path == path and r.status not in (401, 429)]
        toggles.worst_sends = max(toggles.worst_sends, len(sent))
        if exc is None:
            toggles.state = "BLOCKED" if verb == "block" else "ACTIVE"
            continue
        toggles.failures += 1
        if isinstance(exc, Conflict):
            # The state was known before every call: a 409 means a call was applied twice.
            toggles.conflicts += 1
        # The outcome is unknown: let a slow attempt land, then read the state back.
        await asyncio.sleep(storm.profile.slow_seconds + 0.1)
        for _ in range(50):
            got, failed = await storm.tally.guarded(cards.get(card.id), CALL_DEADLINE)
            if failed is None:
                assert got is not None
                toggles.state = got.state.state
                break
        else:
            storm.problems.append(f"card {card.id}: state never read back")
            return


# -- the checks -----------------------------------------------------------------------------


def _check_walks(storm: Storm) -> None:
    fake = storm.fake
    checked = dup = lost = misordered = 0
    for walk in storm.walks:
        plan = walk.plan
        label = f"walk {plan.instrument.kind} {plan.instrument.id} {plan.order}"
        if not walk.completed or walk.pin is None:
            storm.problems.append(f"{label}: did not complete")
            continue
        ledger = [e for e in fake.ledger(plan.instrument) if e["processedTimestamp"] < walk.pin]
        if plan.order == "DESC":
            ledger.reverse()
        expected: list[Any] = [raw_key(e) for e in ledger] if plan.typed else ledger
        keys = [k if plan.typed else _canonical(k) for k in walk.got]
        want = [k if plan.typed else _canonical(k) for k in expected]
        counts = Counter(keys)
        d = sum(n - 1 for n in counts.values() if n > 1)
        missing = len(set(want) - set(keys))
        checked += len(want)
        dup += d
        lost += missing
        if walk.got != expected:
            if not d and not missing:
                misordered += 1
            storm.problems.append(
                f"{label}: {len(walk.got)} entries, expected {len(expected)} "
                f"({d} duplicated, {missing} lost)"
            )
    storm.figures.update(
        {
            "walks (completed/all)": f"{sum(w.completed for w in storm.walks)}/{len(storm.walks)}",
            "walk resumes": storm.resumes,
            "entries checked": checked,
            "duplicates": dup,
            "losses": lost,
            "misordered walks": misordered,
        }
    )


def _canonical(entry: Any) -> bytes:
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


@attrs.frozen
class _Balances:
    instruments: tuple[SeededInstrument, ...]
    balance: dict[str, int]

    @classmethod
    def of(cls, fake: FakeBackOffice, writes: list[Write]) -> _Balances:
        seen: dict[str, SeededInstrument] = {}
        for w in writes:
            seen[w.source.id] = w.source
            if w.destination is not None:
                seen[w.destination.id] = w.destination
        insts = tuple(seen.values())
        return cls(insts, {i.id: fake.instrument_balance(i) for i in insts})


def _check_writes(storm: Storm, before: _Balances, sizes: dict[str, int]) -> None:
    fake = storm.fake
    expected = dict(before.balance)
    for w in storm.writes:
        expected[w.source.id] -= w.amount
        if w.destination is not None:
            expected[w.destination.id] += w.amount
    for inst in before.instruments:
        got = fake.instrument_balance(inst)
        if got != expected[inst.id]:
            storm.problems.append(
                f"instrument {inst.id}: balance {got}, expected {expected[inst.id]} "
                f"(off by {got - expected[inst.id]})"
            )
    # Each logical write's transaction is on its source's ledger exactly once, and nothing
    # else was added to the written instruments.
    applied_once = 0
    new_entries: dict[str, list[dict[str, Any]]] = {
        inst.id: fake.ledger(inst)[sizes[inst.id] :] for inst in before.instruments
    }
    for w in storm.writes:
        on_source = [e for e in new_entries[w.source.id] if e["transactionId"]["id"] == w.result_id]
        wanted = "TRANSFER" if w.kind == "transfer" else "CHARGE_FEE"
        if len(on_source) == 1 and on_source[0]["transactionId"]["type"] == wanted:
            applied_once += 1
        else:
            storm.problems.append(
                f"{w.kind} #{w.index} ({w.ref}): {len(on_source)} ledger entries for "
                f"transaction {w.result_id}"
            )
    ids = [w.result_id for w in storm.writes]
    if len(set(ids)) != len(ids):
        storm.problems.append("two logical writes share a transaction id")
    expected_new = Counter(w.source.id for w in storm.writes)
    expected_new.update(w.destination.id for w in storm.writes if w.destination is not None)
    for inst in before.instruments:
        if len(new_entries[inst.id]) != expected_new[inst.id]:
            storm.problems.append(
                f"instrument {inst.id}: {len(new_entries[inst.id])} new ledger entries, "
                f"expected {expected_new[inst.id]}"
            )
    storm.figures["idempotent writes applied once"] = f"{applied_once}/{len(storm.writes)}"


async def _check_toggles(storm: Storm) -> None:
    for t in storm.toggles:
        if t.conflicts:
            storm.problems.append(f"card {t.card.id}: {t.conflicts} conflicts (applied twice?)")
        if t.worst_sends > 1:
            storm.problems.append(
                f"card {t.card.id}: a block/unblock was sent {t.worst_sends} times"
            )
        got, exc = await storm.tally.guarded(t.session.managed_cards.get(t.card.id), CALL_DEADLINE)
        if exc is not None or got is None:
            storm.problems.append(f"card {t.card.id}: final read failed: {exc!r}")
        elif got.state.state != t.state:
            storm.problems.append(f"card {t.card.id}: {got.state.state}, expected {t.state}")


def sdk_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks the SDK created: page fetches, token requests, or any task running
    a coroutine defined in the SDK's own modules (the simulator's excepted)."""
    current = asyncio.current_task()
    found = []
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        where = Path(code.co_filename) if code is not None else None
        ours = (
            where is not None
            and where.is_relative_to(_SDK_DIR)
            and not where.is_relative_to(_SDK_DIR / "testing")
        )
        if ours or task.get_name() in (PAGE_TASK_NAME, TOKEN_TASK_NAME):
            found.append(task)
    return found


def _check_tasks(storm: Storm) -> None:
    left = sdk_tasks()
    storm.figures["SDK tasks left"] = len(left)
    if left:
        storm.problems.append(f"tasks left behind: {left!r}")


async def _check_pool(storm: Storm, account: SeededInstrument, identity: Identity) -> float:
    """No connection leaked: none is still held, and a client on the storm's pool (limit =
    `MAX_CONCURRENCY`) runs that many slow requests side by side (a leaked connection would
    make one wait for another's), then walks a whole statement at once."""
    fake, tally = storm.fake, storm.tally
    # aiohttp keeps the connections it has handed out, and not yet taken back, in `_acquired`.
    held = len(storm.connector._acquired)
    storm.figures["pool: connections held after"] = held
    if held:
        storm.problems.append(f"{held} connection(s) still held after the storm")
    probe = BackOffice(
        api_key=fake.api_key,
        base_url=fake.url,
        session=storm.http,
        timeout=5.0,
        retry=Retry.disabled(),
        max_concurrency=MAX_CONCURRENCY,
        budget=RateBudget.unlimited(),
    )
    async with probe:
        accounts = probe.identity(identity).managed_accounts
        _, exc = await tally.guarded(accounts.get(account.id), CALL_DEADLINE)  # the token
        latency = fake.latency = 0.25
        loop = asyncio.get_running_loop()
        started = loop.time()
        side_by_side = asyncio.gather(*(accounts.get(account.id) for _ in range(MAX_CONCURRENCY)))
        _, exc = await tally.guarded(side_by_side, CALL_DEADLINE)
        parallel = loop.time() - started
        fake.latency = 0.0
        storm.figures[f"pool: {MAX_CONCURRENCY} slow GETs at once (s)"] = f"{parallel:.2f}"
        if exc is not None or parallel > 1.8 * latency:
            storm.problems.append(f"{MAX_CONCURRENCY} requests at once took {parallel:.2f} s")
        started = loop.time()
        stream = accounts.statement(account.id, page_size=50, concurrency=MAX_CONCURRENCY)
        entries, exc = await tally.guarded(stream.collect(), SETTLE_DEADLINE)
        seconds = loop.time() - started
    want = len(fake.ledger(account))
    if exc is not None or entries is None or len(entries) != want:
        storm.problems.append(f"walk after the storm failed: {exc!r}")
    elif seconds > 3.0:
        storm.problems.append(f"walk after the storm took {seconds:.1f} s")
    return seconds


def _figures(storm: Storm, seconds: float, leak_seconds: float) -> None:
    fake, bo, tally = storm.fake, storm.bo, storm.tally
    injected = fake.faults.injected
    tasks_left = storm.figures.pop("SDK tasks left", 0)
    pool = {k: storm.figures.pop(k) for k in list(storm.figures) if k.startswith("pool:")}
    walks = dict(storm.figures)
    figures: dict[str, object] = {
        "storm seconds": f"{seconds:.1f}",
        "nominal random fault rate": f"{storm.profile.nominal_rate:.0%}",
        "requests (simulator)": fake.count(),
        "faults: 5xx": injected["error"],
        "faults: 429 (random)": injected["rate_limit"],
        "faults: 429 (rate limiter)": injected["rate_limiter"],
        "faults: dropped before commit": injected["drop"],
        "faults: dropped after commit": injected["drop_after_commit"],
        "faults: malformed body": injected["malformed"],
        "faults: slow (> timeout)": injected["slow"],
        "client retries": bo.stats.retries,
        "client 429s seen": bo.stats.rate_limited,
        "429 burst reads ok": f"{storm.burst[0]}/{storm.burst[1]}",
        "token requests / refreshes": f"{fake.count('requestAccessToken')} / "
        f"{bo.stats.token_refreshes}",
        **walks,
        "writes failed, re-issued": storm.reissued,
        "idempotent replays (simulator)": fake.idempotent_replays,
        "block/unblock calls / failed": f"{sum(t.calls for t in storm.toggles)} / "
        f"{sum(t.failures for t in storm.toggles)}",
        "SDK tasks left": tasks_left,
        **pool,
        "pool: walk after (s)": f"{leak_seconds:.2f}",
        "untyped errors": sum(tally.untyped.values()),
    }
    for name, n in sorted(tally.typed.items()):
        figures[f"typed: {name}"] = n
    for name, n in sorted(tally.untyped.items()):
        figures[f"UNTYPED: {name}"] = n
    storm.figures = figures
    if tally.untyped:
        storm.problems.append(f"untyped failures: {dict(tally.untyped)} e.g. {tally.examples}")


__all__ = [
    "HOSTILE",
    "REALISTIC",
    "Profile",
    "Storm",
    "Tally",
    "entry_key",
    "raw_key",
    "run_storm",
    "sdk_tasks",
]
