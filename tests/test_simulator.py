"""The embedded simulator (weavr_async.testing.FakeBackOffice), driven over plain aiohttp.

Every response that goes through ``Api.call`` is also checked against the committed contract
(status documented, headers, JSON body schema) unless the test opts out.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import contract
import orjson
import pytest
from multidict import CIMultiDict

from weavr_async.testing import (
    FakeBackOffice,
    RecordedRequest,
    SeededIdentity,
    SeededInstrument,
)
from weavr_async.testing._server import ROUTES

# --------------------------------------------------------------------------- helpers


class Resp:
    """A read response: status, headers, raw body and (when JSON) the parsed body."""

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Api:
    """A thin client over aiohttp that validates every response against the contract."""

    def __init__(self, fake: FakeBackOffice, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.token: str | None = None

    async def login(self, identity: SeededIdentity) -> str:
        r = await self.call(
            "POST",
            "/access_token",
            json={"identity": {"type": identity.type, "id": identity.id}},
        )
        assert r.status == 200, r.body
        token = r.json["token"]
        self.token = token["token"] if isinstance(token, dict) else token
        return self.token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        api_key: bool = True,
        auth: bool = True,
        check: bool = True,
    ) -> Resp:
        hdrs: dict[str, str] = {}
        if api_key:
            hdrs["api-key"] = self.fake.api_key
        if auth and self.token is not None:
            hdrs["Authorization"] = f"Bearer {self.token}"
        hdrs.update(headers or {})
        payload = orjson.dumps(json) if json is not None else data
        if payload is not None:
            hdrs.setdefault("content-type", "application/json")
        async with self.session.request(
            method, self.fake.url + path, data=payload, params=params, headers=hdrs
        ) as resp:
            body = await resp.read()
            out = Resp(resp.status, CIMultiDict(resp.headers), body)
        assert out.headers["request-ref"]
        if check:
            problem = contract.response_violation(
                method,
                path,
                out.status,
                out.headers,
                body,
                out.headers.get("Content-Type", ""),
            )
            assert problem is None, problem
        return out


@pytest.fixture
async def sim() -> AsyncIterator[FakeBackOffice]:
    async with FakeBackOffice(seed=3) as server:
        yield server
    assert server.handler_errors == []


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def api(sim: FakeBackOffice, session: aiohttp.ClientSession) -> Api:
    return Api(sim, session)


@pytest.fixture
def corp(sim: FakeBackOffice) -> SeededIdentity:
    return sim.add_identity("CORPORATE")


async def funded(sim: FakeBackOffice, ident: SeededIdentity) -> tuple[SeededInstrument, ...]:
    """An account with history and an empty prepaid card of ``ident``."""
    acct = sim.add_managed_account(ident, history=20)
    card = sim.add_managed_card(ident)
    return acct, card


def transfer_body(src: SeededInstrument, dst: SeededInstrument, amount: int, **extra: Any) -> Any:
    return {
        "profileId": "1",
        "source": {"type": src.kind, "id": src.id},
        "destination": {"type": dst.kind, "id": dst.id},
        "destinationAmount": {"currency": src.currency, "amount": amount},
        **extra,
    }


# --------------------------------------------------------------------------- basics


def test_operation_ids_match_contract_and_route_names() -> None:
    ops = FakeBackOffice.operation_ids()
    assert len(ops) == 32
    assert ops == contract.operation_ids()
    app = FakeBackOffice().make_app()
    names = {r.name for r in app.router.routes() if r.name}
    assert names == ops
    for method, path, op in ROUTES:
        assert contract.operation_for(method, path.replace("{", "1").replace("}", "")) in (
            op,
            None,
        )


async def test_url_binds_loopback_and_is_deterministic() -> None:
    async with FakeBackOffice(seed=11) as a, FakeBackOffice(seed=11) as b:
        assert a.url.startswith("http://127.0.0.1:")
        assert a.url.endswith("/multi/backoffice")
        assert a.port != 0 and a.port != b.port
        assert a.api_key == b.api_key
        ia, ib = a.add_identity("CONSUMER"), b.add_identity("CONSUMER")
        assert ia == ib and ia.identity_type == "CONSUMER"
        ma = a.add_managed_account(ia, history=300)
        mb = b.add_managed_account(ib, history=300)
        assert ma == mb
        assert a.ledger(ma) == b.ledger(mb)
    async with FakeBackOffice(seed=12, api_key="k") as c:
        assert c.api_key == "k"
        assert c.add_identity("CONSUMER") != ia


async def test_start_close_without_context_manager() -> None:
    fake = FakeBackOffice()
    await fake.start()
    try:
        async with aiohttp.ClientSession() as s, s.get(fake.url + "/transfers") as r:
            assert r.status == 401
    finally:
        await fake.close()


# --------------------------------------------------------------------------- auth & tokens


async def test_auth_rules(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct = sim.add_managed_account(corp)
    other = sim.add_identity("CORPORATE")
    foreign = sim.add_managed_account(other)
    foreign_card = sim.add_managed_card(other)
    r = await api.call("GET", f"/managed_accounts/{acct.id}", api_key=False)
    assert r.status == 401 and r.body == b""
    r = await api.call("GET", f"/managed_accounts/{acct.id}")
    assert r.status == 401  # no bearer token
    api.token = "nope"
    assert (await api.call("GET", f"/managed_accounts/{acct.id}")).status == 401
    await api.login(corp)
    r = await api.call("GET", f"/managed_accounts/{acct.id}", headers={"api-key": "wrong"})
    assert r.status == 401
    r = await api.call("GET", f"/managed_accounts/{acct.id}")
    assert r.status == 200 and r.json["id"] == acct.id
    r = await api.call("GET", f"/managed_accounts/{foreign.id}")
    assert r.status == 403 and r.json == {"errorCode": "INSUFFICIENT_PERMISSIONS"}
    r = await api.call("GET", f"/managed_cards/{foreign_card.id}/statement")
    assert r.status == 403
    r = await api.call("GET", "/managed_accounts/999999999")
    assert r.status == 404 and r.json["code"] == "NOT_FOUND"
    r = await api.call("GET", f"/managed_cards/{acct.id}")
    assert r.status == 404  # an account id is not a card id
    r = await api.call("GET", "/managed_accounts/12ab")
    assert r.status == 400 and r.json["validationErrors"][0]["fieldName"] == "id"


async def test_token_issuance_shapes_and_conflicts(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    token = await api.login(corp)
    r = await api.call(
        "POST", "/access_token", json={"identity": {"type": "CORPORATE", "id": corp.id}}
    )
    assert r.json["identity"] == {"type": "CORPORATE", "id": corp.id}
    assert r.json["token"]["token"] != token  # a new token each time
    assert sim.token_requests == 2 and sim.count("requestAccessToken") == 2
    # Both tokens stay valid until expired.
    assert (await api.call("GET", "/transfers")).status == 200
    r = await api.call(
        "POST", "/access_token", json={"identity": {"type": "CONSUMER", "id": corp.id}}
    )
    assert r.status == 409 and r.json == {"errorCode": "UNRESOLVED_IDENTITY"}
    r = await api.call("POST", "/access_token", json={"identity": {"type": "CORPORATE", "id": "1"}})
    assert r.status == 409
    r = await api.call("POST", "/access_token", json={"identity": {"type": "X", "id": "a"}})
    assert r.status == 400 and len(r.json["validationErrors"]) == 2
    r = await api.call("POST", "/access_token", data=b"{not json")
    assert r.status == 400
    sim.refuse_identity(corp)
    r = await api.call(
        "POST", "/access_token", json={"identity": {"type": "CORPORATE", "id": corp.id}}
    )
    assert r.status == 409
    sim.refuse_identity(corp, refused=False)
    sim.expire_tokens(corp)
    assert (await api.call("GET", "/transfers")).status == 401


async def test_token_string_shape_and_impersonation(session: aiohttp.ClientSession) -> None:
    async with FakeBackOffice(seed=5, token_shape="string") as fake:
        api = Api(fake, session)
        ident = fake.add_identity("CONSUMER")
        r = await api.call(
            "POST",
            "/access_token",
            json={"identity": {"type": "CONSUMER", "id": ident.id}},
            check=False,
        )
        assert isinstance(r.json["token"], str)
        body = {"identity": {"type": "CONSUMER", "id": ident.id}}
        r = await api.call("POST", "/impersonate_identity_login", json=body, check=False)
        assert r.status == 401  # the deprecated login needs a bearer token too
        api.token = r_token = (
            await api.call("POST", "/access_token", json=body, check=False)
        ).json["token"]
        r = await api.call("POST", "/impersonate_identity_login", json=body, check=False)
        assert r.status == 200 and r.json["token"] != r_token
        fake.expire_tokens()
        r = await api.call("POST", "/impersonate_identity_login", json=body, check=False)
        assert r.status == 401


# --------------------------------------------------------------------------- statements


async def test_statement_paging_ordering_and_counts(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=1234)
    await api.login(corp)
    ledger = sim.ledger(acct)
    assert len(ledger) == 1234
    path = f"/managed_accounts/{acct.id}/statement"
    r = await api.call("GET", path)
    body = r.json
    assert body["count"] == 1234 and body["responseCount"] == 100 == len(body["entry"])
    assert body["entry"] == list(reversed(ledger))[:100]  # DESC by default
    walked: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = (
            await api.call(
                "GET",
                path,
                params={"orderByTimestamp": "ASC", "offset": offset, "statementLimit": 500},
            )
        ).json
        walked += page["entry"]
        assert page["count"] == 1234
        if page["responseCount"] < 500:
            break
        offset += 500
    assert walked == ledger
    ts = [e["processedTimestamp"] for e in walked]
    assert ts == sorted(ts)
    assert len({e["transactionId"]["id"] for e in walked}) == 1234
    last = (await api.call("GET", path, params={"offset": 1230})).json
    assert last["responseCount"] == 4 and last["entry"][-1] == ledger[0]
    past = (await api.call("GET", path, params={"offset": 5000})).json
    assert past["entry"] == [] and past["count"] == 1234 and past["responseCount"] == 0


async def test_statement_descending_ties_reverse_insertion(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=3)
    sim.post_transactions(acct, 5)  # five entries at the same millisecond
    await api.login(corp)
    asc = (
        await api.call(
            "GET", f"/managed_accounts/{acct.id}/statement", params={"orderByTimestamp": "ASC"}
        )
    ).json["entry"]
    desc = (await api.call("GET", f"/managed_accounts/{acct.id}/statement")).json["entry"]
    assert desc == list(reversed(asc))
    assert len({e["processedTimestamp"] for e in asc[-5:]}) == 1


async def test_statement_filters_window_and_types(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=2000)
    await api.login(corp)
    ledger = sim.ledger(acct)
    path = f"/managed_accounts/{acct.id}/statement"
    lo, hi = ledger[500]["processedTimestamp"], ledger[900]["processedTimestamp"]
    expected = [e for e in ledger if lo <= e["processedTimestamp"] < hi]
    r = await api.call(
        "GET",
        path,
        params={
            "fromTimestamp": lo,
            "toTimestamp": hi,
            "orderByTimestamp": "ASC",
            "statementLimit": 500,
        },
    )
    body = r.json
    assert body["count"] == len(expected) and body["entry"] == expected
    start = body["startBalance"]["amount"]
    end = body["endBalance"]["amount"]
    assert start + sum(e["actualBalanceAdjustment"]["amount"] for e in expected) == end
    # Repeated transactionType params select a union of types.
    params = [
        ("transactionType", "DEPOSIT"),
        ("transactionType", "CHARGE_FEE"),
        ("statementLimit", "500"),
    ]
    want = [e for e in ledger if e["transactionId"]["type"] in ("DEPOSIT", "CHARGE_FEE")]
    got: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = (await api.call("GET", path, params=[*params, ("offset", str(offset))])).json
        got += page["entry"]
        assert page["count"] == len(want)
        if page["responseCount"] < 500:
            break
        offset += 500
    assert got == list(reversed(want))
    one = (
        await api.call("GET", path, params={"transactionType": "DEPOSIT", "statementLimit": 1})
    ).json
    assert one["entry"][0]["transactionId"]["type"] == "DEPOSIT"
    fund = (
        await api.call("GET", path, params={"showFundMovementsOnly": "true", "statementLimit": 500})
    ).json
    assert all(
        e["actualBalanceAdjustment"]["amount"] != 0 or e["transactionFee"]["amount"]
        for e in fund["entry"]
    )


async def test_statement_validation_errors(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=10)
    card = sim.add_managed_card(corp, history=10)
    await api.login(corp)
    apath = f"/managed_accounts/{acct.id}/statement"
    cpath = f"/managed_cards/{card.id}/statement"
    bad = [
        (apath, {"statementLimit": "501"}),
        (apath, {"statementLimit": "0"}),
        (apath, {"offset": "-1"}),
        (apath, {"orderByTimestamp": "UP"}),
        (apath, {"fromTimestamp": "abc"}),
        (apath, {"fromTimestamp": "10", "toTimestamp": "10"}),
        (apath, {"transactionType": "NOPE"}),
        (apath, {"showFundMovementsOnly": "yes"}),
        (cpath, {"limit": "101"}),
        (cpath, {"singleEntryPerTransaction": "1"}),
    ]
    for path, params in bad:
        r = await api.call("GET", path, params=params)
        assert r.status == 400, params
        assert r.json["validationErrors"] and r.json["message"]
    assert (await api.call("GET", apath, params={"statementLimit": "500"})).status == 200
    r = await api.call("GET", cpath, params={"limit": "100", "statementLimit": "7"})
    assert r.status == 200 and r.json["responseCount"] == 10


async def test_seeded_history_balances_are_consistent(
    sim: FakeBackOffice, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=5000)
    card = sim.add_managed_card(corp, history=3000)
    for inst in (acct, card):
        ledger = sim.ledger(inst)
        balance = 0
        types = set()
        forex = 0
        for e in ledger:
            adj = e["actualBalanceAdjustment"]["amount"]
            assert adj == e["availableBalanceAdjustment"]["amount"]
            balance += adj
            assert e["balanceAfter"]["amount"] == balance >= 0
            assert e["actualBalanceAfter"] == e["availableBalanceAfter"] == e["balanceAfter"]
            assert e["transactionId"]["id"].isdigit()
            assert all(isinstance(v, str) for v in e["additionalFields"].values())
            types.add(e["transactionId"]["type"])
            forex += "forexRate" in e
        assert balance == sim.instrument_balance(inst)
        assert len(types) >= 6
        assert 0.03 * len(ledger) < forex < 0.3 * len(ledger)
        span = ledger[-1]["processedTimestamp"] - ledger[0]["processedTimestamp"]
        assert span > 2 * 365 * 24 * 3600 * 1000
        assert ledger[-1]["processedTimestamp"] < sim.now_ms()


async def test_debit_card_statement_has_no_balances(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, currency="GBP")
    card = sim.add_managed_card(corp, history=40, mode="DEBIT_MODE", parent_account=acct)
    assert card.currency == "GBP" and card.mode == "DEBIT_MODE"
    await api.login(corp)
    body = (await api.call("GET", f"/managed_cards/{card.id}/statement")).json
    assert body["count"] == 40 and "startBalance" not in body and "endBalance" not in body
    assert all("balanceAfter" not in e for e in body["entry"])
    got = (await api.call("GET", f"/managed_cards/{card.id}")).json
    assert got["mode"] == "DEBIT_MODE" and got["parentManagedAccountId"] == acct.id
    assert "balances" not in got


async def test_arrivals_during_a_walk(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct = sim.add_managed_account(corp, history=50)
    card = sim.add_managed_card(corp, history=5)
    await api.login(corp)
    newest = sim.ledger(acct)[-1]["processedTimestamp"]
    sim.arrivals_per_statement_request = 3
    path = f"/managed_accounts/{acct.id}/statement"
    first = (await api.call("GET", path)).json
    assert first["count"] == 53
    assert first["entry"][0]["processedTimestamp"] > newest
    second = (await api.call("GET", path)).json
    assert second["count"] == 56
    assert second["entry"][0]["processedTimestamp"] > first["entry"][0]["processedTimestamp"]
    assert len(sim.ledger(card)) == 5  # only the instrument served gets arrivals
    sim.arrivals_per_statement_request = 0
    sim.post_transactions(card, 4)
    ledger = sim.ledger(card)
    assert len(ledger) == 9 and ledger[-1]["processedTimestamp"] >= ledger[-5]["processedTimestamp"]
    balance = 0
    for e in sim.ledger(acct):
        balance += e["actualBalanceAdjustment"]["amount"]
        assert e["balanceAfter"]["amount"] == balance
    # A fixed toTimestamp snapshot is unaffected by arrivals.
    now = sim.now_ms()
    sim.arrivals_per_statement_request = 2
    snap = (await api.call("GET", path, params={"toTimestamp": now})).json
    again = (await api.call("GET", path, params={"toTimestamp": now})).json
    assert snap["count"] == again["count"] == 56


async def test_statement_csv_and_pdf(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct = sim.add_managed_account(corp, history=30)
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    r = await api.call("GET", path, headers={"Accept": "text/csv"}, params={"statementLimit": 7})
    assert r.headers["Content-Type"].startswith("text/csv")
    lines = r.body.decode().strip().splitlines()
    assert lines[0].startswith("transactionId.type,transactionId.id") and len(lines) == 8
    r = await api.call("GET", path, headers={"Accept": "application/pdf"})
    assert r.headers["Content-Type"].startswith("application/pdf")
    assert r.body.startswith(b"%PDF-1.4") and r.body.rstrip().endswith(b"%%EOF")
    r = await api.call("GET", path, headers={"Accept": "image/png"})
    assert r.headers["Content-Type"].startswith("application/json") and r.json["count"] == 30


# --------------------------------------------------------------------------- instruments


async def test_instrument_bodies(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct = sim.add_managed_account(corp, history=10)
    card = sim.add_managed_card(corp, currency="EUR", history=10)
    await api.login(corp)
    a = (await api.call("GET", f"/managed_accounts/{acct.id}")).json
    assert a["balances"]["actualBalance"] == sim.instrument_balance(acct)
    assert a["state"] == {"state": "ACTIVE"}
    c = (await api.call("GET", f"/managed_cards/{card.id}")).json
    assert c["mode"] == "PREPAID_MODE" and c["balances"][
        "availableBalance"
    ] == sim.instrument_balance(card)
    assert len(c["cardNumber"]["value"]) <= 16 and len(c["cvv"]["value"]) <= 3


async def test_card_actions_and_conflicts(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp)
    funded_card = sim.add_managed_card(corp, history=20)
    await api.login(corp)
    base = f"/managed_cards/{card.id}"

    async def state() -> dict[str, Any]:
        return (await api.call("GET", base)).json["state"]  # type: ignore[no-any-return]

    assert (await api.call("POST", base + "/unblock")).json == {
        "errorCode": "INSTRUMENT_NOT_BLOCKED"
    }
    r = await api.call("POST", base + "/block")
    assert r.status == 204 and r.body == b""
    assert await state() == {"state": "BLOCKED", "blockedReason": "USER"}
    assert (await api.call("POST", base + "/block")).json == {
        "errorCode": "INSTRUMENT_ALREADY_BLOCKED"
    }
    assert (await api.call("POST", base + "/unblock")).status == 204
    assert await state() == {"state": "ACTIVE"}
    r = await api.call("PATCH", base + "/renewal", json={"renewalType": "NO_RENEW"})
    assert r.status == 204
    assert (await api.call("GET", base)).json["renewalType"] == "NO_RENEW"
    r = await api.call("PATCH", base + "/renewal", json={"renewalType": "SOMETIMES"})
    assert r.status == 400
    r = await api.call("POST", f"/managed_cards/{funded_card.id}/remove")
    assert r.json == {"errorCode": "BALANCE_NOT_ZERO"}
    assert (await api.call("POST", base + "/remove")).status == 204
    assert await state() == {"state": "DESTROYED", "destroyedReason": "USER"}
    assert (await api.call("POST", base + "/remove")).json == {
        "errorCode": "INSTRUMENT_ALREADY_REMOVED"
    }
    assert (await api.call("POST", base + "/block")).json == {"errorCode": "INSTRUMENT_DESTROYED"}
    assert (await api.call("POST", base + "/unblock")).json == {"errorCode": "INSTRUMENT_DESTROYED"}
    r = await api.call("PATCH", base + "/renewal", json={"renewalType": "RENEW"})
    assert r.json == {"errorCode": "INSTRUMENT_DESTROYED"}


async def test_spend_rules(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct = sim.add_managed_account(corp)
    debit = sim.add_managed_card(corp, mode="DEBIT_MODE", parent_account=acct)
    prepaid = sim.add_managed_card(corp)
    await api.login(corp)
    path = f"/managed_cards/{debit.id}/spend_rules"
    got = (await api.call("GET", path)).json
    assert got["cardLevelSpendRules"] == {} and "profileLevelSpendRules" in got
    limit = {"value": {"currency": "EUR", "amount": 1000}, "interval": "DAILY"}
    rules = {"allowAtm": False, "blockedMerchantCountries": ["RU"], "spendLimit": [limit]}
    assert (await api.call("POST", path, json=rules)).status == 204
    assert (await api.call("POST", path, json=rules)).json == {
        "errorCode": "SPEND_RULE_ALREADY_SET"
    }
    got = (await api.call("GET", path)).json["cardLevelSpendRules"]
    assert got == rules
    card = (await api.call("GET", f"/managed_cards/{debit.id}")).json
    assert card["availableToSpend"] == [limit]
    inc = {"spendLimit": [{"value": {"currency": "EUR", "amount": 500}, "interval": "DAILY"}],
           "updateSpendLimitMethod": "INCREMENT", "allowAtm": True}  # fmt: skip
    r = await api.call("PATCH", path, json=inc, headers={"idempotency-ref": "inc-1"})
    assert r.status == 204
    r = await api.call("PATCH", path, json=inc, headers={"idempotency-ref": "inc-1"})
    assert r.status == 204 and sim.idempotent_replays == 1
    got = (await api.call("GET", path)).json["cardLevelSpendRules"]
    assert got["spendLimit"][0]["value"]["amount"] == 1500 and got["allowAtm"] is True
    assert got["blockedMerchantCountries"] == ["RU"]
    weekly = {"value": {"currency": "EUR", "amount": 9}, "interval": "WEEKLY"}
    assert (await api.call("PATCH", path, json={"spendLimit": [weekly]})).status == 204
    assert (await api.call("GET", path)).json["cardLevelSpendRules"]["spendLimit"] == [weekly]
    conflicts = [
        ([{"value": {"currency": "GBP", "amount": 1}, "interval": "DAILY"}],
         "SPEND_LIMIT_CURRENCY_DIFFERENT_FROM_CARD_CURRENCY"),
        ([limit, limit], "SPEND_LIMIT_DUPLICATE_INTERVAL"),
        ([{"value": {"currency": "EUR", "amount": -5}, "interval": "DAILY"}],
         "SPEND_LIMIT_AMOUNT_INVALID"),
    ]  # fmt: skip
    for limits, code in conflicts:
        r = await api.call("PATCH", path, json={"spendLimit": limits})
        assert r.json == {"errorCode": code}
    ppath = f"/managed_cards/{prepaid.id}/spend_rules"
    r = await api.call("POST", ppath, json={"spendLimit": [limit]})
    assert r.json == {"errorCode": "SPEND_LIMIT_NOT_SUPPORTED_FOR_PREPAID_MODE_CARD"}
    r = await api.call("POST", ppath, json={"minTransactionAmount": -1})
    assert r.status == 400
    r = await api.call("POST", ppath, json={"spendLimit": [{"interval": "DAILY"}]})
    assert r.status == 400
    assert (await api.call("DELETE", path)).status == 204
    assert (await api.call("GET", path)).json["cardLevelSpendRules"] == {}
    assert (await api.call("POST", path, json={"allowECommerce": False})).status == 204


# --------------------------------------------------------------------------- transfers


async def test_transfer_moves_money(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, card = await funded(sim, corp)
    await api.login(corp)
    before = sim.instrument_balance(acct)
    body = transfer_body(acct, card, 1234, tag="topup", description="Top up #1")
    r = await api.call("POST", "/transfers", json=body)
    t = r.json
    assert r.status == 200 and t["state"] == "COMPLETED" and t["tag"] == "topup"
    assert sim.instrument_balance(acct) == before - 1234
    assert sim.instrument_balance(card) == 1234
    src_entry, dst_entry = sim.ledger(acct)[-1], sim.ledger(card)[-1]
    assert src_entry["transactionId"] == {"type": "TRANSFER", "id": t["id"]}
    assert src_entry["actualBalanceAdjustment"]["amount"] == -1234
    assert dst_entry["balanceAfter"]["amount"] == 1234
    assert dst_entry["additionalFields"]["sourceInstrumentId"] == acct.id
    assert (await api.call("GET", f"/transfers/{t['id']}")).json == t
    card_get = (await api.call("GET", f"/managed_cards/{card.id}")).json
    assert card_get["balances"] == {"availableBalance": 1234, "actualBalance": 1234}


async def test_transfer_conflicts(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, card = await funded(sim, corp)
    gbp = sim.add_managed_account(corp, currency="GBP", history=5)
    debit = sim.add_managed_card(corp, mode="DEBIT_MODE", parent_account=acct)
    blocked = sim.add_managed_card(corp)
    destroyed = sim.add_managed_card(corp)
    other = sim.add_managed_account(sim.add_identity("CONSUMER"), history=5)
    await api.login(corp)
    assert (await api.call("POST", f"/managed_cards/{blocked.id}/block")).status == 204
    assert (await api.call("POST", f"/managed_cards/{destroyed.id}/remove")).status == 204
    ghost = SeededInstrument("424242", "managed_accounts", corp.id, "EUR")
    huge = sim.instrument_balance(acct) + 1
    cases = [
        (transfer_body(acct, card, 0), "AMOUNT_INVALID"),
        (transfer_body(acct, card, -5), "AMOUNT_INVALID"),
        (transfer_body(ghost, card, 5), "SOURCE_NOT_FOUND"),
        (transfer_body(other, card, 5), "SOURCE_NOT_FOUND"),
        (transfer_body(acct, ghost, 5), "DESTINATION_NOT_FOUND"),
        (transfer_body(acct, other, 5), "DESTINATION_NOT_FOUND"),
        (transfer_body(acct, acct, 5), "SOURCE_AND_DESTINATION_MUST_BE_DIFFERENT"),
        (transfer_body(acct, gbp, 5), "CURRENCY_MISMATCH"),
        (transfer_body(acct, card, huge), "FUNDS_INSUFFICIENT"),
        (transfer_body(debit, card, 5), "SOURCE_CANNOT_BE_DEBIT_MODE_CARD"),
        (transfer_body(acct, debit, 5), "DESTINATION_CANNOT_BE_DEBIT_MODE_CARD"),
        (transfer_body(blocked, acct, 5), "SOURCE_INSTRUMENT_BLOCKED"),
        (transfer_body(acct, blocked, 5), "DESTINATION_INSTRUMENT_BLOCKED"),
        (transfer_body(destroyed, acct, 5), "SOURCE_INSTRUMENT_DESTROYED"),
        (transfer_body(acct, destroyed, 5), "DESTINATION_INSTRUMENT_DESTROYED"),
        (transfer_body(acct, card, 5, scheduledTimestamp="1000"), "SCHEDULED_TIMESTAMP_INVALID"),
    ]
    wrong_currency = transfer_body(acct, card, 5)
    wrong_currency["destinationAmount"]["currency"] = "USD"
    cases.append((wrong_currency, "CURRENCY_MISMATCH"))
    for body, code in cases:
        r = await api.call("POST", "/transfers", json=body)
        assert (r.status, r.json) == (409, {"errorCode": code}), code
    bad = transfer_body(acct, card, 5)
    del bad["profileId"]
    bad["source"]["type"] = "wallets"
    r = await api.call("POST", "/transfers", json=bad)
    assert r.status == 400 and {e["fieldName"] for e in r.json["validationErrors"]} == {
        "profileId",
        "source.type",
    }
    assert sim.instrument_balance(card) == 0


async def test_scheduled_transfer_runs_when_due(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = await funded(sim, corp)
    await api.login(corp)
    when = sim.now_ms() + 150
    r = await api.call(
        "POST", "/transfers", json=transfer_body(acct, card, 77, scheduledTimestamp=str(when))
    )
    t = r.json
    assert t["state"] == "SCHEDULED" and t["scheduledTimestamp"] == str(when)
    assert sim.instrument_balance(card) == 0
    await asyncio.sleep(0.2)
    done = (await api.call("GET", f"/transfers/{t['id']}")).json
    assert done["state"] == "COMPLETED" and sim.instrument_balance(card) == 77


async def test_transfer_idempotency(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, card = await funded(sim, corp)
    await api.login(corp)
    body = transfer_body(acct, card, 10)
    h = {"idempotency-ref": "abc"}
    first = await api.call("POST", "/transfers", json=body, headers=h)
    again = await api.call("POST", "/transfers", json=body, headers=h)
    assert first.body == again.body and sim.idempotent_replays == 1
    assert first.headers["request-ref"] != again.headers["request-ref"]
    assert sim.instrument_balance(card) == 10
    changed = await api.call("POST", "/transfers", json=transfer_body(acct, card, 11), headers=h)
    assert changed.json["id"] != first.json["id"] and sim.instrument_balance(card) == 21
    plain = await api.call("POST", "/transfers", json=body)
    assert plain.json["id"] != first.json["id"] and sim.instrument_balance(card) == 31


async def test_transfers_list(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    _acct, card = await funded(sim, corp)
    sim.add_transfers(corp, count=250)
    other = sim.add_identity("CORPORATE")
    sim.add_managed_account(other)
    sim.add_managed_account(other)
    sim.add_transfers(other, count=5)
    await api.login(corp)
    everything: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = (await api.call("GET", "/transfers", params={"offset": offset, "limit": 100})).json
        assert page["count"] == 250
        everything += page["transfer"]
        if page["responseCount"] < 100:
            break
        offset += 100
    assert len(everything) == 250 and len({t["id"] for t in everything}) == 250
    created = [t["creationTimestamp"] for t in everything]
    assert created == sorted(created, reverse=True)
    lo, hi = created[200], created[50]
    window = (await api.call("GET", "/transfers", params={"createdFrom": lo, "createdTo": hi})).json
    assert window["count"] == sum(1 for c in created if lo <= c < hi)
    states = [("state", "REJECTED"), ("state", "FAILED")]
    failed = (await api.call("GET", "/transfers", params=states)).json
    assert failed["count"] == sum(1 for t in everything if t["state"] in ("REJECTED", "FAILED"))
    tagged = (await api.call("GET", "/transfers", params={"tag": "rent"})).json
    assert tagged["count"] == sum(1 for t in everything if t.get("tag") == "rent") > 0
    by_src = (
        await api.call("GET", "/transfers", params={"id": card.id, "type": "managed_cards"})
    ).json
    assert by_src["count"] == sum(1 for t in everything if t["source"]["id"] == card.id)
    assert all(t["source"]["id"] == card.id for t in by_src["transfer"])
    for params in (
        {"id": card.id},
        {"limit": 0},
        {"state": "DONE"},
        {"tag": "a b"},
        {"profileId": "x"},
    ):
        assert (await api.call("GET", "/transfers", params=params)).status == 400, params
    foreign = sim.add_managed_account(other)
    assert foreign.identity_id == other.id
    sim.arrivals_per_transfers_request = 2
    newer = (await api.call("GET", "/transfers", params={"limit": 2})).json
    assert newer["count"] == 252 and newer["transfer"][0]["creationTimestamp"] > created[0]
    some = everything[0]["id"]
    assert (await api.call("GET", f"/transfers/{some}")).status == 200
    assert (await api.call("GET", "/transfers/1")).status == 404


# --------------------------------------------------------------------------- fees & users


async def test_fees(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, card = await funded(sim, corp)
    consumer = sim.add_identity("CONSUMER")
    foreign = sim.add_managed_account(consumer, history=5)
    await api.login(corp)
    before = sim.instrument_balance(acct)
    body = {"feeType": "MONTHLY_FEE", "source": {"type": "managed_accounts", "id": acct.id}}
    r = await api.call("POST", "/fees/charge", json=body, headers={"idempotency-ref": "fee-1"})
    fee = r.json
    assert r.status == 200 and fee["availableBalanceAdjustment"] == {
        "currency": "EUR",
        "amount": -250,
    }
    assert fee["destination"]["type"] == "managed_accounts" and fee["state"] == "COMPLETED"
    assert sim.instrument_balance(acct) == before - 250
    entry = sim.ledger(acct)[-1]
    assert entry["transactionId"] == fee["transactionId"]
    assert entry["additionalFields"]["chargeFeeType"] == "MONTHLY_FEE"
    await api.call("POST", "/fees/charge", json=body, headers={"idempotency-ref": "fee-1"})
    assert sim.instrument_balance(acct) == before - 250
    r = await api.call("POST", "/corporates/fees/charge", json=body)
    assert r.status == 200 and sim.instrument_balance(acct) == before - 500
    r = await api.call("POST", "/consumers/fees/charge", json=body)
    assert r.json == {"errorCode": "INSUFFICIENT_PERMISSIONS"}
    cases = [
        ({**body, "feeType": "NOPE"}, "UNRESOLVED_FEE_TYPE"),
        ({**body, "source": {"type": "managed_accounts", "id": "1"}}, "UNRESOLVED_INSTRUMENT"),
        ({**body, "source": {"type": "managed_accounts", "id": foreign.id}},
         "IDENTITY_NOT_OWNER_OF_INSTRUMENT"),
        ({**body, "source": {"type": "managed_cards", "id": card.id}}, "FUNDS_INSUFFICIENT"),
    ]  # fmt: skip
    for b, code in cases:
        assert (await api.call("POST", "/fees/charge", json=b)).json == {"errorCode": code}
    r = await api.call("POST", "/fees/charge", json={"source": body["source"]})
    assert r.status == 400 and r.json["syntaxErrors"]["invalidFields"][0]["fieldName"] == "feeType"
    r = await api.call("POST", "/corporates/fees/charge", json={"source": body["source"]})
    assert r.status == 400 and "validationErrors" in r.json
    sim.fee_types["TINY"] = 1
    r = await api.call("POST", "/fees/charge", json={**body, "feeType": "TINY"})
    assert r.status == 200 and r.json["availableBalanceAdjustment"]["amount"] == -1


async def test_users(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    seeded = sim.add_user(corp, email="seeded@example.com")
    other_user = sim.add_user(sim.add_identity("CONSUMER"))
    await api.login(corp)
    body = {
        "name": "Ada",
        "surname": "Lovelace",
        "email": "ada@example.com",
        "mobile": {"countryCode": "+356", "number": "79123456"},
        "dateOfBirth": {"year": 1990, "month": 12, "day": 10},
        "roles": ["ADMIN"],
        "locale": "en-GB",
    }
    r = await api.call("POST", "/users", json=body)
    user = r.json
    assert r.status == 200 and user["active"] is True and user["identity"]["id"] == corp.id
    assert user["mobile"] == body["mobile"] and user["roles"] == ["ADMIN"]
    r = await api.call("POST", "/users", json={**body, "email": "SEEDED@example.com"})
    assert r.json == {"errorCode": "EMAIL_NOT_UNIQUE"}
    bad_bodies = [
        {**body, "name": ""},
        {**body, "email": "nope"},
        {**body, "roles": ["KING"]},
        {**body, "dateOfBirth": {"year": 1800, "month": 1, "day": 1}},
        {"name": "x"},
    ]
    for bad in bad_bodies:
        r = await api.call("POST", "/users", json=bad)
        assert r.status == 400 and r.json["syntaxErrors"]["invalidFields"]
    assert (await api.call("POST", f"/users/{user['id']}/invite")).status == 204
    sim.consume_invite(seeded)
    r = await api.call("POST", f"/users/{seeded.id}/invite")
    assert r.json == {"errorCode": "INVITE_ALREADY_CONSUMED"}
    assert (await api.call("POST", f"/users/{seeded.id}/deactivate")).status == 204
    assert (await api.call("POST", f"/users/{other_user.id}/invite")).status == 403
    assert (await api.call("POST", "/users/999/deactivate")).status == 404
    assert (await api.call("POST", "/users/abc/deactivate")).status == 400


# --------------------------------------------------------------------------- bulks


async def test_bulk_transfers_auto_run(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, card = await funded(sim, corp)
    await api.login(corp)
    ops = [{"pathParams": {}, "requestBody": transfer_body(acct, card, 10 + i)} for i in range(5)]
    ops[2]["requestBody"]["destinationAmount"]["amount"] = 0  # fails: AMOUNT_INVALID
    r = await api.call("POST", "/bulks/transfers", json=ops)
    assert r.status == 201 and r.json["operationCount"] == 5
    bulk_id = r.json["bulkId"]
    got = (await api.call("GET", f"/bulks/{bulk_id}")).json
    assert got["status"] == "SUBMITTED" and got["submittedItemsCount"] == 5
    assert (await api.call("POST", f"/bulks/{bulk_id}/pause")).json == {
        "errorCode": "INVALID_STATE"
    }
    r = await api.call("POST", f"/bulks/{bulk_id}/execute", json={"mode": "ON_FAILURE_CONTINUE"})
    assert r.status == 204
    got = (await api.call("GET", f"/bulks/{bulk_id}")).json
    assert got["status"] == "PARTIALLY_COMPLETED" and got["mode"] == "ON_FAILURE_CONTINUE"
    counts = {c["status"]: c["count"] for c in got["operationStatusCounts"]}
    assert counts["COMPLETED"] == 4 and counts["FAILED"] == 1
    assert sim.instrument_balance(card) == 10 + 11 + 13 + 14
    listing = (await api.call("GET", f"/bulks/{bulk_id}/operations", params={"limit": 3})).json
    assert listing["count"] == 5 and [o["sequence"] for o in listing["operations"]] == [1, 2, 3]
    failed = listing["operations"][2]
    assert failed["status"] == "FAILED" and orjson.loads(failed["responsePayload"]) == {
        "errorCode": "AMOUNT_INVALID"
    }
    assert orjson.loads(listing["operations"][0]["requestPayload"]) == ops[0]["requestBody"]
    only = (await api.call("GET", f"/bulks/{bulk_id}/operations", params={"status": "FAILED"})).json
    assert only["count"] == 1
    seq = (await api.call("GET", f"/bulks/{bulk_id}/operations", params={"sequence": 4})).json
    assert seq["operations"][0]["sequence"] == 4
    again = await api.call("POST", f"/bulks/{bulk_id}/execute", json={})
    assert again.json == {"errorCode": "INVALID_STATE"}
    # ON_FAILURE_STOP: the rest is cancelled after the first failure.
    r = await api.call("POST", "/bulks/transfers", json=ops)
    stop_id = r.json["bulkId"]
    await api.call("POST", f"/bulks/{stop_id}/execute", json={"mode": "ON_FAILURE_STOP"})
    got = (await api.call("GET", f"/bulks/{stop_id}")).json
    counts = {c["status"]: c["count"] for c in got["operationStatusCounts"]}
    assert got["status"] == "PARTIALLY_COMPLETED"
    assert (counts["COMPLETED"], counts["FAILED"], counts["CANCELLED"]) == (2, 1, 2)
    all_bulks = (await api.call("GET", "/bulks")).json
    assert [b["bulkId"] for b in all_bulks["bulkProcesses"]] == [stop_id, bulk_id]
    assert (await api.call("GET", "/bulks", params={"status": "SUBMITTED"})).json["count"] == 0
    assert (await api.call("GET", "/bulks", params={"status": "NOPE"})).status == 400
    assert (await api.call("GET", "/bulks/123")).status == 404
    r = await api.call("POST", "/bulks/transfers", json=[], check=False)
    assert r.status == 400 and r.json["syntaxErrors"]["invalidFields"]


async def test_bulk_spend_rules_manual_run(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp)
    cards = [sim.add_managed_card(corp, mode="DEBIT_MODE", parent_account=acct) for _ in range(6)]
    sim.bulk_auto_run = False
    await api.login(corp)
    limit = {"value": {"currency": "EUR", "amount": 700}, "interval": "MONTHLY"}
    ops = [{"pathParams": {"_id_": c.id}, "requestBody": {"spendLimit": [limit]}} for c in cards]
    r = await api.call("PATCH", "/bulks/managed_cards/_id_/spend_rules", json=ops)
    assert r.status == 201
    bulk_id = r.json["bulkId"]
    assert (await api.call("POST", f"/bulks/{bulk_id}/execute", json={})).status == 204
    assert (await api.call("GET", f"/bulks/{bulk_id}")).json["status"] == "RUNNING"
    assert sim.advance_bulks(2) == 2
    assert (await api.call("POST", f"/bulks/{bulk_id}/pause")).status == 204
    assert (await api.call("POST", f"/bulks/{bulk_id}/pause")).json == {
        "errorCode": "INVALID_STATE"
    }
    assert sim.advance_bulks(5) == 0  # paused bulks do not advance
    assert (await api.call("POST", f"/bulks/{bulk_id}/resume")).status == 204
    assert sim.advance_bulks(1) == 1
    assert (await api.call("POST", f"/bulks/{bulk_id}/cancel")).status == 204
    got = (await api.call("GET", f"/bulks/{bulk_id}")).json
    counts = {c["status"]: c["count"] for c in got["operationStatusCounts"]}
    assert got["status"] == "CANCELLED" and counts["COMPLETED"] == 3 and counts["CANCELLED"] == 3
    assert "executionFinish" in got
    assert (await api.call("POST", f"/bulks/{bulk_id}/resume")).json == {
        "errorCode": "INVALID_STATE"
    }
    for i, card in enumerate(cards):
        rules = (await api.call("GET", f"/managed_cards/{card.id}/spend_rules")).json
        assert bool(rules["cardLevelSpendRules"]) == (i < 3)
    # Running to completion by advancing.
    r = await api.call("PATCH", "/bulks/managed_cards/_id_/spend_rules", json=ops[:2])
    second = r.json["bulkId"]
    await api.call("POST", f"/bulks/{second}/execute", json={"mode": "ON_FAILURE_STOP"})
    assert sim.advance_bulks(10) == 2
    assert (await api.call("GET", f"/bulks/{second}")).json["status"] == "COMPLETED"
    bad = [{"pathParams": {"_id_": "x"}, "requestBody": {}}]
    r = await api.call("PATCH", "/bulks/managed_cards/_id_/spend_rules", json=bad, check=False)
    assert r.status == 400
    other = Api(sim, api.session)
    await other.login(sim.add_identity("CORPORATE"))
    assert (await other.call("GET", f"/bulks/{bulk_id}")).status == 403


# --------------------------------------------------------------------------- faults


async def test_scripted_errors_and_rate_limit(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.faults.script(status=503, count=2)
    assert (await api.call("GET", "/transfers")).status == 503
    assert (await api.call("GET", "/transfers")).status == 503
    assert (await api.call("GET", "/transfers")).status == 200
    sim.faults.script(status=500, count=1, operation_id="transferGet", body={"code": "X"})
    assert (await api.call("GET", "/transfers")).status == 200
    r = await api.call("GET", "/transfers/1", check=False)
    assert r.status == 500 and r.json == {"code": "X"}
    sim.faults.script_rate_limit(count=1, reset=3)
    r = await api.call("GET", "/transfers", check=False)
    assert r.status == 429
    assert r.headers["x-ratelimit-reset"] == "3"
    assert r.headers["x-ratelimit-limit"] == sim.faults.rate_limit_header == "1000, 1000;w=1"
    assert sim.faults.injected["error"] == 3 and sim.faults.injected["rate_limit"] == 1
    assert sim.faults.pending == 0


async def test_drop_before_and_after_commit(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct, card = await funded(sim, corp)
    await api.login(corp)
    body = transfer_body(acct, card, 5)
    h = {"idempotency-ref": "drop-1"}
    sim.faults.script_drop(count=1, operation_id="transferCreate")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "/transfers", json=body, headers=h)
    assert sim.instrument_balance(card) == 0  # nothing committed
    sim.faults.script_drop(count=1, operation_id="transferCreate", after_commit=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "/transfers", json=body, headers=h)
    assert sim.instrument_balance(card) == 5  # committed before the drop
    retry = await api.call("POST", "/transfers", json=body, headers=h)
    assert retry.status == 200 and sim.instrument_balance(card) == 5
    assert sim.idempotent_replays == 1
    statuses = [r.status for r in sim.requests if r.operation_id == "transferCreate"]
    assert statuses == [0, 0, 200]
    assert sim.faults.injected["drop"] == 1 and sim.faults.injected["drop_after_commit"] == 1


async def test_malformed_responses(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    await api.login(corp)
    sim.faults.script_malformed(kind="truncated")
    sim.faults.script_malformed(kind="garbage")
    sim.faults.script_malformed(kind="html")
    r1 = await api.call("GET", "/transfers", check=False)
    r2 = await api.call("GET", "/transfers", check=False)
    r3 = await api.call("GET", "/transfers", check=False)
    for r in (r1, r2):
        assert r.status == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(r.body)
    assert r3.status == 200 and r3.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        sim.faults.script_malformed(kind="weird")  # type: ignore[arg-type]


async def test_probabilistic_faults_are_seeded(session: aiohttp.ClientSession) -> None:
    async def run(seed: int) -> list[int]:
        async with FakeBackOffice(seed=seed) as fake:
            api = Api(fake, session)
            await api.login(fake.add_identity("CORPORATE"))
            fake.faults.error_rate = 0.3
            fake.faults.rate_limit_rate = 0.1
            out = [(await api.call("GET", "/transfers", check=False)).status for _ in range(40)]
            assert sum(fake.faults.injected.values()) == sum(1 for s in out if s != 200)
            return out

    first, second = await run(9), await run(9)
    assert first == second
    assert {500, 502, 503, 504} & set(first) and 429 in first and 200 in first


async def test_slow_and_latency(sim: FakeBackOffice, api: Api) -> None:
    sim.latency = 0.05
    t0 = time.perf_counter()
    await api.call("GET", "/transfers")
    assert time.perf_counter() - t0 >= 0.05
    sim.latency = 0
    sim.faults.slow_rate, sim.faults.slow_seconds = 1.0, 0.05
    t0 = time.perf_counter()
    await api.call("GET", "/transfers")
    assert time.perf_counter() - t0 >= 0.05 and sim.faults.injected["slow"] == 1
    sim.faults.clear()
    assert sim.faults.slow_rate == 0


async def test_server_rate_limiter(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    await api.login(corp)
    sim.set_rate_limit(3, window=2)
    statuses = [(await api.call("GET", "/transfers", check=False)) for _ in range(5)]
    assert [r.status for r in statuses] == [200, 200, 200, 429, 429]
    limited = statuses[3]
    assert limited.headers["x-ratelimit-limit"] == "3, 3;w=2"
    assert 1 <= int(limited.headers["x-ratelimit-reset"]) <= 2
    sim.set_rate_limit(2, window=0.2)
    await api.call("GET", "/transfers")
    await api.call("GET", "/transfers")
    assert (await api.call("GET", "/transfers", check=False)).status == 429
    await asyncio.sleep(0.25)
    assert (await api.call("GET", "/transfers")).status == 200
    sim.set_rate_limit(None)
    for _ in range(5):
        assert (await api.call("GET", "/transfers")).status == 200


# --------------------------------------------------------------------------- recording


async def test_request_recording(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct = sim.add_managed_account(corp, history=3)
    await api.login(corp)
    await api.call(
        "GET",
        f"/managed_accounts/{acct.id}/statement",
        params=[("transactionType", "DEPOSIT"), ("transactionType", "TRANSFER")],
    )
    rec = sim.requests[-1]
    assert isinstance(rec, RecordedRequest)
    assert rec.method == "GET" and rec.path == f"/managed_accounts/{acct.id}/statement"
    assert rec.query == [("transactionType", "DEPOSIT"), ("transactionType", "TRANSFER")]
    assert rec.headers["api-key"] == sim.api_key and rec.status == 200
    assert rec.operation_id == "managedAccountStatement"
    login = sim.requests[0]
    assert orjson.loads(login.body)["identity"]["id"] == corp.id
    assert sim.count() == 2 and sim.count("managedAccountStatement") == 1
    r = await api.call("GET", "/nowhere", check=False)
    assert r.status == 404 and sim.requests[-1].operation_id is None
    sim.reset_requests()
    assert sim.count() == 0


async def test_request_validator(session: aiohttp.ClientSession) -> None:
    seen: list[RecordedRequest] = []

    def validator(req: RecordedRequest) -> str | None:
        seen.append(req)
        return "limit is not allowed" if ("limit", "7") in req.query else None

    async with FakeBackOffice(request_validator=validator) as fake:
        api = Api(fake, session)
        await api.login(fake.add_identity("CORPORATE"))
        fake.faults.script(status=503, count=1)
        r = await api.call("GET", "/transfers", params={"limit": "7"}, check=False)
        assert r.status == 400 and r.json == {"message": "limit is not allowed"}
        assert fake.faults.pending == 1  # the validator runs before faults
        assert len(seen) == 2


async def test_contract_validator_accepts_simulator_traffic(session: aiohttp.ClientSession) -> None:
    """The contract's own request checker, plugged in as request_validator, finds nothing."""
    async with FakeBackOffice(seed=2, request_validator=contract.make_request_validator()) as fake:
        api = Api(fake, session)
        ident = fake.add_identity("CORPORATE")
        acct = fake.add_managed_account(ident, history=30)
        card = fake.add_managed_card(ident)
        await api.login(ident)
        r = await api.call(
            "GET",
            f"/managed_accounts/{acct.id}/statement",
            params=[("transactionType", "DEPOSIT"), ("statementLimit", "5")],
        )
        assert r.status == 200, r.body
        r = await api.call("POST", "/transfers", json=transfer_body(acct, card, 3))
        assert r.status == 200, r.body
        r = await api.call("GET", "/transfers", params={"id": acct.id, "type": "managed_accounts"})
        assert r.status == 200 and r.json["count"] == 1


async def test_response_validator_judges_answers_not_injected_faults(
    session: aiohttp.ClientSession,
) -> None:
    judged: list[tuple[str | None, int, str]] = []

    def validator(
        req: RecordedRequest, status: int, headers: Mapping[str, str], body: bytes, ctype: str
    ) -> str | None:
        judged.append((req.operation_id, status, ctype))
        assert headers["request-ref"]
        if status == 404:
            raise RuntimeError("validator bug")
        return f"{req.operation_id} said {status}" if status == 409 else None

    async with FakeBackOffice(
        request_validator=contract.make_request_validator(), response_validator=validator
    ) as fake:
        api = Api(fake, session)
        ident = fake.add_identity("CORPORATE")
        acct, card = await funded(fake, ident)
        await api.login(ident)  # judged: (requestAccessToken, 200)
        dead = {"Authorization": "Bearer dead"}
        r = await api.call("GET", "/transfers", auth=False, headers=dead, check=False)
        assert r.status == 401
        body, ref = transfer_body(acct, card, 2), {"idempotency-ref": "r-1"}
        await api.call("POST", "/transfers", json=body, headers=ref)
        await api.call("POST", "/transfers", json=body, headers=ref)  # a replay is judged too
        await api.call("POST", f"/managed_cards/{card.id}/unblock", check=False)  # 409
        await api.call("GET", "/transfers/424242", check=False)  # 404: the validator raises
        fake.faults.script(status=503, count=1)
        fake.faults.script_rate_limit(count=1)
        fake.faults.script_malformed(kind="html")
        for _ in range(3):
            await api.call("GET", "/transfers", check=False)
        fake.set_rate_limit(0)
        assert (await api.call("GET", "/transfers", check=False)).status == 429
        fake.set_rate_limit(None)
        assert (await api.call("GET", "/transfers", params={"x": "1"}, check=False)).status == 400
    assert judged == [
        ("requestAccessToken", 200, "application/json"),
        ("transfersGet", 401, ""),
        ("transferCreate", 200, "application/json"),
        ("transferCreate", 200, "application/json"),
        ("managedCardUnblock", 409, "application/json"),
        ("transferGet", 404, "application/json"),
    ]
    assert fake.response_violations == [
        "managedCardUnblock said 409",
        "transferGet: response validator raised RuntimeError('validator bug')",
    ]


# --------------------------------------------------------------------------- performance


async def test_large_history_is_fast(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    t0 = time.perf_counter()
    acct = sim.add_managed_account(corp, history=200_000)
    assert time.perf_counter() - t0 < 2.0
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    params = {"statementLimit": 500, "offset": 100_000}
    await api.call("GET", path, params=params, check=False)
    t0 = time.perf_counter()
    for _ in range(10):
        r = await api.call("GET", path, params=params, check=False)
    per_page = (time.perf_counter() - t0) / 10
    assert r.json["responseCount"] == 500 and r.json["count"] == 200_000
    assert per_page < 0.05
    filtered = await api.call(
        "GET", path, params={**params, "transactionType": "DEPOSIT", "offset": 1000}, check=False
    )
    assert filtered.json["responseCount"] == 500


# --------------------------------------------------------------------------- odds and ends


async def test_filter_cache_follows_new_entries(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp, history=500)
    await api.login(corp)
    path = f"/managed_cards/{card.id}/statement"
    params = [("transactionType", "SETTLEMENT"), ("transactionType", "TRANSFER")]

    def expected() -> int:
        kinds = ("SETTLEMENT", "TRANSFER")
        return sum(1 for e in sim.ledger(card) if e["transactionId"]["type"] in kinds)

    assert (await api.call("GET", path, params=params)).json["count"] == expected()
    single = [("transactionType", "SETTLEMENT")]
    first = (await api.call("GET", path, params=single)).json["count"]
    sim.post_transactions(card, 60)
    assert (await api.call("GET", path, params=params)).json["count"] == expected()
    after = (await api.call("GET", path, params=single)).json["count"]
    settlements = sum(1 for e in sim.ledger(card) if e["transactionId"]["type"] == "SETTLEMENT")
    assert after == settlements >= first


async def test_misc_errors_and_helpers(sim: FakeBackOffice, api: Api, corp: SeededIdentity) -> None:
    acct, card = await funded(sim, corp)
    other = sim.add_identity("CORPORATE")
    foreign = sim.add_managed_account(other)
    await api.login(corp)
    r = await api.call("DELETE", "/transfers", check=False)
    assert r.status == 405
    r = await api.call("GET", "/transfers", params={"id": foreign.id, "type": "managed_accounts"})
    assert r.status == 403 and r.json == {"errorCode": "INSUFFICIENT_PERMISSIONS"}
    r = await api.call("GET", "/transfers", params={"id": "77", "type": "managed_accounts"})
    assert r.status == 200 and r.json["count"] == 0
    sim.set_instrument_state(acct, "BLOCKED")
    r = await api.call("POST", "/transfers", json=transfer_body(acct, card, 1))
    assert r.json == {"errorCode": "SOURCE_INSTRUMENT_BLOCKED"}
    got = (await api.call("GET", f"/managed_accounts/{acct.id}")).json
    assert got["state"] == {"state": "BLOCKED", "blockedReason": "SYSTEM"}
    sim.set_instrument_state(acct, "ACTIVE")
    ops = [{"requestBody": transfer_body(acct, card, 1)}]
    bulk_id = (await api.call("POST", "/bulks/transfers", json=ops)).json["bulkId"]
    r = await api.call("POST", f"/bulks/{bulk_id}/execute", json={"mode": "SOMETIMES"})
    assert r.status == 400 and r.json["syntaxErrors"]["invalidFields"][0]["fieldName"] == "mode"
    entries = sim.ledger(acct)
    entries[0]["transactionAmount"]["amount"] = 1
    assert sim.ledger(acct)[0]["transactionAmount"]["amount"] != 1  # copies, not shared
    with pytest.raises(KeyError):
        sim.instrument_balance("31337")
    with pytest.raises(ValueError):
        sim.add_managed_card(corp, mode="DEBIT_MODE")
    with pytest.raises(ValueError):
        sim.add_transfers(sim.add_identity("CONSUMER"))
    with pytest.raises(ValueError):
        sim.add_managed_card(corp, parent_account=acct)  # parent is for DEBIT_MODE only
    with pytest.raises(ValueError):
        sim.faults.script(operation_id="transferCreated")  # typo caught
    system = sim.add_managed_card(corp)
    lost = sim.add_managed_card(corp)
    sim.set_instrument_state(system, "BLOCKED", "SYSTEM")
    sim.set_instrument_state(lost, "BLOCKED", "LOST")
    assert (await api.call("POST", f"/managed_cards/{system.id}/unblock")).status == 403
    r = await api.call("POST", f"/managed_cards/{lost.id}/unblock")
    assert r.json == {"errorCode": "INSTRUMENT_MARKED_LOST_STOLEN"}
    r = await api.call("POST", f"/managed_cards/{lost.id}/block")
    assert r.json == {"errorCode": "INSTRUMENT_MARKED_LOST_STOLEN"}


async def test_history_end_is_configurable() -> None:
    end = 1_600_000_000_000
    fake = FakeBackOffice(seed=4, history_end_ms=end)
    ident = fake.add_identity("CONSUMER")
    acct = fake.add_managed_account(ident, history=100)
    ledger = fake.ledger(acct)
    assert ledger[-1]["processedTimestamp"] < end
    assert ledger[0]["processedTimestamp"] > end - 4 * 365 * 24 * 3600 * 1000


async def test_million_entry_history_is_compact(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    t0 = time.perf_counter()
    acct = sim.add_managed_account(corp, history=1_000_000)
    assert time.perf_counter() - t0 < 5.0
    ledger = sim._backend.instruments[acct.id].ledger
    stored = sum(
        sys.getsizeof(a)
        for a in (ledger.ts, ledger.amt, ledger.bal, ledger.txid, ledger.kinds, ledger.fx)
    )
    assert stored / 1_000_000 < 40  # bytes per entry
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    r = await api.call("GET", path, params={"statementLimit": 500, "offset": 999_800}, check=False)
    assert r.json["responseCount"] == 200 and r.json["count"] == 1_000_000
    assert r.json["startBalance"]["amount"] == 0
    assert r.json["endBalance"]["amount"] == sim.instrument_balance(acct)
