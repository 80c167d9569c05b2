"""The validator hooks: ``request_validator`` before anything else, ``response_validator`` on
the operations' own answers."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from weavr_async.testing import FakeBackOffice, RecordedRequest
from weavr_async.testing.contract import make_request_validator

from .conftest import Api, funded, transfer_body


async def test_a_request_validators_message_is_answered_400_before_any_fault(
    session: aiohttp.ClientSession,
) -> None:
    seen: list[RecordedRequest] = []

    def validator(req: RecordedRequest) -> str | None:
        seen.append(req)
        return "limit is not allowed" if ("limit", "7") in req.query else None

    async with FakeBackOffice(request_validator=validator) as fake:
        api = Api(fake, session)
        await api.login(fake.add_identity("CORPORATE"))
        fake.faults.script(status=503, count=1)
        r = await api.call("GET", "/transfers", params={"limit": "7"}, check=False)
        assert r.status == 400
        assert r.json == {"message": "limit is not allowed"}
        assert fake.faults.pending == 1  # the validator runs before faults
        assert len(seen) == 2


async def test_the_contracts_request_check_finds_nothing_in_simulator_traffic(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeBackOffice(seed=2, request_validator=make_request_validator()) as fake:
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
        assert r.status == 200
        assert r.json["count"] == 1


async def test_the_response_validator_judges_answers_not_injected_faults(
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
        request_validator=make_request_validator(), response_validator=validator
    ) as fake:
        api = Api(fake, session)
        ident = fake.add_identity("CORPORATE")
        acct, card = funded(fake, ident)
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
