"""Property-based: whatever a server answers (any JSON, any status, any header the SDK reads),
a call either returns values of the declared types or raises a `WeavrError`; nothing else
escapes, and the pure header readers never raise and stay within their bounds."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weavr_async import BackOffice, ManagedAccount, RateBudget, Retry, StatementEntry, WeavrError
from weavr_async._budget_windows import MAX_IMPOSED_SECONDS
from weavr_async._wire import (
    MAX_RATE_LIMIT_WINDOW,
    parse_rate_limit,
    parse_rate_limit_reset,
    request_ref_of,
)

from .conftest import API_KEY, CORPORATE, HostileServer
from .test_models_fuzz import holds

ONE_TRY = Retry(max_attempts=2, base_delay=0.0, max_delay=0.0, max_rate_limit_wait=0.01)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
account_like = st.fixed_dictionaries(
    {
        "id": st.one_of(st.just("2001"), json_values),
        "profileId": st.one_of(st.just("1"), json_values),
        "friendlyName": st.one_of(st.just("a"), json_values),
        "currency": st.one_of(st.just("EUR"), json_values),
        "balances": st.one_of(
            st.fixed_dictionaries(
                {"availableBalance": st.integers(), "actualBalance": st.integers()}
            ),
            json_values,
        ),
        "state": st.one_of(st.just({"state": "ACTIVE"}), json_values),
        "creationTimestamp": st.one_of(st.integers(min_value=0, max_value=2**40), json_values),
    }
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
) | st.sampled_from(["0", "1", "1e308", "nan", "inf", "-1", "10, 10;w=60", "1, 1;w=1e9"])
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 404, 409, 429, 500, 503])


async def _answer_once(
    make_call: Any, path: str, status: int, body: bytes, headers: dict[str, str]
) -> Any:
    server = HostileServer()
    await server.start()

    async def answer(_: web.Request) -> web.StreamResponse:
        return web.Response(
            status=status, body=body, headers={"content-type": "application/json", **headers}
        )

    server.route("GET", path, answer)
    try:
        async with BackOffice(
            API_KEY, base_url=server.url, retry=ONE_TRY, timeout=2.0, budget=RateBudget.unlimited()
        ) as bo:
            try:
                return await asyncio.wait_for(make_call(bo.identity(CORPORATE)), 10)
            except WeavrError as exc:
                return exc
    finally:
        await server.close()


@FUZZ
@given(
    body=st.one_of(account_like, json_values),
    status=statuses,
    ref=header_text,
    limit=header_text,
    reset=header_text,
)
def test_any_answer_to_a_call_is_a_typed_value_or_a_weavr_error(
    body: Any, status: int, ref: str, limit: str, reset: str
) -> None:
    headers = {"request-ref": ref, "x-ratelimit-limit": limit, "x-ratelimit-reset": reset}
    got = asyncio.run(
        _answer_once(
            lambda s: s.managed_accounts.get("2001"),
            "/managed_accounts/2001",
            status,
            json.dumps(body).encode(),
            headers,
        )
    )
    if isinstance(got, WeavrError):
        assert "\r" not in str(got)
        assert "\n" not in str(got)
        return
    assert status == 200
    assert isinstance(got, ManagedAccount)
    assert holds(got, ManagedAccount)


page_like = st.fixed_dictionaries(
    {
        "entry": st.one_of(st.lists(json_values, max_size=3), json_values),
        "count": st.one_of(st.integers(min_value=-5, max_value=2**40), json_values),
        "responseCount": st.one_of(st.integers(min_value=-5, max_value=10), json_values),
    }
)


@FUZZ
@given(body=st.one_of(page_like, json_values))
def test_any_statement_page_walks_into_typed_entries_or_a_weavr_error(body: Any) -> None:
    async def walk(session: Any) -> list[Any]:
        stream = session.managed_accounts.statement("2001", page_size=10, concurrency=2)
        return [entry async for entry in stream]

    got = asyncio.run(
        _answer_once(walk, "/managed_accounts/2001/statement", 200, json.dumps(body).encode(), {})
    )
    if isinstance(got, WeavrError):
        return
    assert all(isinstance(e, StatementEntry) and holds(e, StatementEntry) for e in got)


@given(limit=st.text(max_size=60) | header_text, reset=st.text(max_size=30) | header_text)
def test_rate_limit_headers_are_read_within_bounds_or_not_at_all(limit: str, reset: str) -> None:
    parsed = parse_rate_limit({"x-ratelimit-limit": limit})
    if parsed is not None:
        count, window = parsed
        assert isinstance(count, int)
        assert 1 <= count <= 10**9
        assert math.isfinite(window)
        assert 0 < window <= MAX_RATE_LIMIT_WINDOW
    seconds = parse_rate_limit_reset({"x-ratelimit-reset": reset})
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    assert MAX_RATE_LIMIT_WINDOW <= MAX_IMPOSED_SECONDS


@given(ref=st.text(max_size=300))
def test_a_request_ref_is_believed_only_when_it_looks_like_one(ref: str) -> None:
    got = request_ref_of({"request-ref": ref})
    if got is not None:
        assert got == ref
        assert len(got) <= 128
        assert got.isprintable()
        assert " " not in got
