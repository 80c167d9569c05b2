"""A simulator per test, and a thin HTTP client that checks every answer against the contract
unless the test opts out (``check=False``) because the answer is off-contract on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict

from weavr_async.testing import FakeBackOffice, SeededIdentity, SeededInstrument
from weavr_async.testing.contract import response_violation


class Received:
    """An answer as the client read it: status, headers, raw body and (when JSON) the body."""

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Api:
    """A thin client over aiohttp that checks every answer against the contract."""

    def __init__(self, fake: FakeBackOffice, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.token: str | None = None

    async def login(self, identity: SeededIdentity) -> str:
        """Get a token for ``identity``; later calls carry it."""
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
    ) -> Received:
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
            out = Received(resp.status, CIMultiDict(resp.headers), body)
        assert out.headers["request-ref"]
        if check:
            content_type = out.headers.get("Content-Type", "")
            problem = response_violation(method, path, out.status, out.headers, body, content_type)
            assert problem is None, problem
        return out


@pytest.fixture
async def sim() -> AsyncIterator[FakeBackOffice]:
    """A simulator that takes any request (its own validation is what is tested) and never
    fails a handler."""
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


def funded(sim: FakeBackOffice, ident: SeededIdentity) -> tuple[SeededInstrument, SeededInstrument]:
    """An account with history and an empty prepaid card of ``ident``."""
    acct = sim.add_managed_account(ident, history=20)
    card = sim.add_managed_card(ident)
    return acct, card


def transfer_body(src: SeededInstrument, dst: SeededInstrument, amount: int, **extra: Any) -> Any:
    """A POST /transfers body moving ``amount`` of the source's currency."""
    return {
        "profileId": "1",
        "source": {"type": src.kind, "id": src.id},
        "destination": {"type": dst.kind, "id": dst.id},
        "destinationAmount": {"currency": src.currency, "amount": amount},
        **extra,
    }
