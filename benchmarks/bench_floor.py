"""Where the gap to bare aiohttp lies: `python -m benchmarks floor`.

The targets (bench_targets.py) compare the SDK with bare aiohttp + orjson. This suite measures
the steps between the two, side by side in one run, to show which part of the gap is the work
any typed, checked client has to do and which part is the SDK's own:

- calls, 1 and 64 concurrent callers, against the reference server: bare aiohttp; the same
  GET sent the way the SDK sends it (its session header, `accept`, a timeout object, no
  redirects; `content-type` and `request-ref` read back); then behind four awaited layers and
  a concurrency cap (`asyncio.Semaphore`), as any client with a public method, a retry loop
  and a shared cap has; then with the body turned into a typed `ManagedAccount`, every value
  checked (the SDK's own converter); then with the SDK's own steps on top (id check, cached
  token and headers, rate budget, request-ref check, `response_info`) written as a single
  coroutine, the least code that does what the SDK does on a call that succeeds; then the
  SDK's `managed_accounts.get` itself (its layers, request and response objects, retry and
  error paths in place).
- differences of less than about 10% between two steps are within the noise of one run on
  this machine (a step's rate moves that much between runs of the same code).
- a typed walk, per statement entry, on one 500-entry page of the simulator's statement:
  orjson's decoding of the page; the SDK's checked builder; a plain unchecked builder of the
  same attrs models (a loop over `.get` calls); and an attrs entry whose nested values stay
  dicts (what no nested model costs). Against the ceiling walk measured in the same run, the
  typed-walk ratio each builder would allow at most (ceiling / (ceiling + building)): the
  target (0.60) needs building at or under two thirds of the ceiling's cost per entry.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from weavr_async import BackOffice, Identity, RateBudget
from weavr_async._responses import remember
from weavr_async._wire import request_ref_of
from weavr_async.models import CurrencyAmount, ManagedAccount, StatementEntry, TransactionId
from weavr_async.models._converter import structure, structure_many
from weavr_async.resources._validators import check_identifier

from ._prerendered import prerendered
from ._reference import bare_headers, reference_server
from ._rounds import Measure, best, interleaved
from ._table import print_table
from .bench_calls import _rate, _sdk
from .bench_walk import CEILING, ENTRIES, PAGE, ceiling, entries_per_second

ROUNDS = 5
BUILD_ROUNDS = 30
TYPED_TARGET = 0.60
STEPS = (
    "bare aiohttp + orjson",
    "+ sent and read back as the SDK does",
    "+ four awaited layers and a concurrency cap",
    "+ a typed, checked ManagedAccount",
    "+ the SDK's own steps, written as one coroutine",
    "the SDK: managed_accounts.get",
)


async def _step(info: dict[str, Any], callers: int, step: int) -> float:
    """Calls per second of the bare call with the first `step` additions (0: none)."""
    url = info["url"]
    session_headers = {"user-agent": "weavr-async-floor"} if step >= 1 else None
    connector = aiohttp.TCPConnector(limit=max(callers, 16))
    async with aiohttp.ClientSession(connector=connector, headers=session_headers) as session:
        headers = await bare_headers(session, info)
        target = f"{url}/managed_accounts/{info['account']}"
        timeout = aiohttp.ClientTimeout(total=30)

        async def plain() -> Any:
            async with session.get(target, headers=headers) as resp:
                return orjson.loads(await resp.read())

        async def as_the_sdk() -> Any:
            async with session.request(
                "GET",
                target,
                headers=sent,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                if resp.status != 200 or resp.content_type != "application/json":
                    raise RuntimeError(f"answered {resp.status}")
                resp.headers.get("request-ref")
                return orjson.loads(await resp.read())

        sent = {**headers, "accept": "application/json"}
        send: Callable[[], Awaitable[Any]] = plain if step == 0 else as_the_sdk
        if step >= 2:
            send = _layered(send, asyncio.Semaphore(max(callers, 16)))
        typed = step >= 3

        async def call() -> None:
            body = await send()
            got = structure(body, ManagedAccount).id if typed else body["id"]
            assert got == info["account"]

        return await _rate(call, callers)


def _layered(
    send: Callable[[], Awaitable[Any]], cap: asyncio.Semaphore
) -> Callable[[], Awaitable[Any]]:
    """`send` behind four awaited coroutine levels and a concurrency cap."""

    async def capped() -> Any:
        async with cap:
            return await send()

    async def level3() -> Any:
        return await capped()

    async def level2() -> Any:
        return await level3()

    async def level1() -> Any:
        return await level2()

    return level1


async def _in_one_coroutine(info: dict[str, Any], callers: int) -> float:
    """What `managed_accounts.get` does on a call that succeeds at once, with the SDK's own
    parts (id check, cached token and headers, concurrency cap, rate budget, status and
    content-type checks, request-ref check, typed model, `response_info`) but written as one
    coroutine: no layers, no request or response objects, no retry or error paths."""
    async with BackOffice(
        info["api_key"],
        base_url=info["url"],
        max_concurrency=max(callers, 16),
        budget=RateBudget.unlimited(),
    ) as bo:
        accounts = bo.identity(Identity.corporate(info["identity"])).managed_accounts
        await accounts.get(info["account"])  # the token cached, the session open
        transport = accounts._context.transport
        auth = accounts._context.auth
        assert auth is not None
        session, budget, cap = transport._client(), transport.budget, transport._slots
        timeout = aiohttp.ClientTimeout(total=30)
        base = transport.base_url

        async def get(account_id: str) -> ManagedAccount:
            check_identifier(account_id, "account_id")
            headers = transport._headers(auth.cached(), "application/json")
            async with cap:
                if not budget.start_now():
                    raise RuntimeError("an unlimited budget refused a start")
                transport.stats.requests += 1
                async with session.request(
                    "GET",
                    f"{base}/managed_accounts/{account_id}",
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                ) as resp:
                    if resp.status != 200 or resp.content_length is None:
                        raise RuntimeError(f"answered {resp.status}")
                    raw = await resp.read()
                    ref = request_ref_of(resp.headers)
                    if resp.content_type != "application/json":
                        raise RuntimeError(f"answered {resp.content_type}")
            account = structure(orjson.loads(raw), ManagedAccount)
            remember(account, "managedAccountGet", 200, ref, resp.headers)
            return account

        async def call() -> None:
            assert (await get(info["account"])).id == info["account"]

        return await _rate(call, callers)


def _call_steps(info: dict[str, Any], callers: int) -> dict[str, Measure]:
    measures: dict[str, Measure] = {
        name: functools.partial(_step, info, callers, i) for i, name in enumerate(STEPS[:-2])
    }
    measures[STEPS[-2]] = functools.partial(_in_one_coroutine, info, callers)
    measures[STEPS[-1]] = functools.partial(_sdk, info, callers)
    return measures


# -- the typed walk, per entry ---------------------------------------------------------------


def _unchecked(items: list[dict[str, Any]]) -> list[StatementEntry]:
    """The same attrs models built without a single check (wrong types would pass)."""

    def amount(value: Any) -> CurrencyAmount | None:
        return None if value is None else CurrencyAmount(value["currency"], value["amount"])

    out = []
    for o in items:
        get = o.get
        tx, paid = o["transactionId"], o["transactionAmount"]
        out.append(
            StatementEntry(
                TransactionId(tx["type"], tx["id"]),
                o["entryState"],
                CurrencyAmount(paid["currency"], paid["amount"]),
                o["processedTimestamp"],
                original_amount=amount(get("originalAmount")),
                available_balance_adjustment=amount(get("availableBalanceAdjustment")),
                actual_balance_adjustment=amount(get("actualBalanceAdjustment")),
                balance_after=amount(get("balanceAfter")),
                available_balance_after=amount(get("availableBalanceAfter")),
                actual_balance_after=amount(get("actualBalanceAfter")),
                transaction_fee=amount(get("transactionFee")),
                cardholder_fee=amount(get("cardholderFee")),
                source_amount=amount(get("sourceAmount")),
                additional_fields=get("additionalFields") or {},
            )
        )
    return out


def _dicts_inside(items: list[dict[str, Any]]) -> list[Any]:
    """One attrs entry per item, its nested values left as the decoded dicts: unchecked, and
    not the model's types; the least an attrs entry per item costs."""
    new: Any = StatementEntry  # given dicts where the models are declared
    out = []
    for o in items:
        get = o.get
        out.append(
            new(
                o["transactionId"],
                o["entryState"],
                o["transactionAmount"],
                o["processedTimestamp"],
                get("originalAmount"),
                get("forexRate"),
                get("availableBalanceAdjustment"),
                get("actualBalanceAdjustment"),
                get("balanceAfter"),
                get("availableBalanceAfter"),
                get("actualBalanceAfter"),
                get("transactionFee"),
                get("cardholderFee"),
                get("sourceAmount"),
                get("userCurrencyTransactionDetails"),
                get("additionalFields"),
            )
        )
    return out


BUILDERS: dict[str, Callable[[list[dict[str, Any]]], object]] = {
    "the SDK's checked builder (structure_many)": lambda items: structure_many(
        items, StatementEntry
    ),
    "plain unchecked builder, same models": _unchecked,
    "attrs entry, nested values left as dicts": _dicts_inside,
}


async def _page(info: dict[str, Any]) -> bytes:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{info['url']}/managed_accounts/{info['account']}/statement",
            params={"offset": "0", "statementLimit": str(PAGE)},
            headers=await bare_headers(session, info),
        ) as resp,
    ):
        return await resp.read()


def _per_entry(raw: bytes, work: Callable[[list[dict[str, Any]]], object]) -> float:
    """Best microseconds per entry of `work` on a freshly decoded page (collector paused, as
    the walk pauses it around a page)."""
    fastest = float("inf")
    for _ in range(BUILD_ROUNDS):
        items = orjson.loads(raw)["entry"]
        gc.disable()
        try:
            started = time.perf_counter()
            work(items)
            fastest = min(fastest, time.perf_counter() - started)
        finally:
            gc.enable()
        del items
    return fastest / PAGE * 1e6


def _decode_only(raw: bytes) -> float:
    fastest = float("inf")
    for _ in range(BUILD_ROUNDS):
        started = time.perf_counter()
        orjson.loads(raw)
        fastest = min(fastest, time.perf_counter() - started)
    return fastest / PAGE * 1e6


def main() -> None:
    with reference_server() as reference:
        for callers in (1, 64):
            rates = interleaved(_call_steps(reference, callers), ROUNDS)
            bare = best(rates[STEPS[0]])
            print_table(
                f"managed_accounts.get, {callers} caller{'s' if callers > 1 else ''}: from bare "
                f"aiohttp to the SDK, step by step (calls/s, best of {ROUNDS} interleaved)",
                ["step", "calls/s", "of bare"],
                [(name, round(best(r)), f"{best(r) / bare:.2f}") for name, r in rates.items()],
            )
    with prerendered(ENTRIES) as front:
        raw = asyncio.run(_page(front))
        walk = {CEILING: entries_per_second(lambda: ceiling(front))}
        interleaved(walk, 1)  # untimed: fills the front's cache
        ceiling_us = 1e6 / best(interleaved(walk, ROUNDS)[CEILING])
    rows: list[tuple[object, ...]] = [
        ("ceiling walk: fetch + orjson, per entry", f"{ceiling_us:.2f}", "-"),
        ("  of which orjson decoding", f"{_decode_only(raw):.2f}", "-"),
    ]
    for name, work in BUILDERS.items():
        cost = _per_entry(raw, work)
        rows.append((name, f"{cost:.2f}", f"{ceiling_us / (ceiling_us + cost):.2f}"))
    allowed = ceiling_us * (1 / TYPED_TARGET - 1)
    print_table(
        f"Typed walk, per statement entry (microseconds; builders: best of {BUILD_ROUNDS} on "
        f"one {PAGE}-entry page of the simulator's statement); the {TYPED_TARGET:.2f} target "
        f"allows {allowed:.2f} us of building per entry",
        ["work", "us/entry", "typed-walk ratio at most"],
        rows,
    )


if __name__ == "__main__":
    main()
