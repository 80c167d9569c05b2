"""Strict mode: ``FakeBackOffice(strict=True)`` holds requests and its own answers to the
contract (`weavr_async.testing.contract`)."""

from __future__ import annotations

import sys

import aiohttp
import pytest

from weavr_async.testing import ContractViolation, FakeBackOffice

from .conftest import Api, funded, transfer_body


async def test_a_request_off_the_contract_is_answered_400_with_what_is_wrong(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeBackOffice(strict=True) as fake:
        assert fake.strict
        api = Api(fake, session)
        corp = fake.add_identity("CORPORATE")
        acct = fake.add_managed_account(corp, history=3)
        await api.login(corp)
        path = f"/managed_accounts/{acct.id}/statement"
        r = await api.call("GET", path, params={"statementLimit": "501"}, check=False)
        assert r.status == 400
        assert "statementLimit" in r.json["message"]
        assert fake.requests[-1].status == 400
        assert (await api.call("GET", path, params={"statementLimit": "500"})).status == 200
    assert fake.response_violations == []


async def test_an_answer_off_the_contract_fails_the_block(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ContractViolation) as caught:
        # A bare-string token is what some deployments answer; the contract says an object.
        async with FakeBackOffice(strict=True, token_shape="string") as fake:
            await Api(fake, session).call(
                "POST",
                "/access_token",
                json={"identity": {"type": "CORPORATE", "id": fake.add_identity().id}},
                check=False,
            )
    assert caught.value.violations == fake.response_violations
    assert len(fake.response_violations) == 1
    assert fake.response_violations[0].startswith("requestAccessToken (POST /access_token -> 200)")
    assert "off-contract" in str(caught.value)


async def test_the_bulk_submissions_undeclared_401_is_no_violation(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeBackOffice(strict=True) as fake:
        api = Api(fake, session)
        corp = fake.add_identity("CORPORATE")
        acct, card = funded(fake, corp)
        await api.login(corp)
        fake.expire_tokens()
        ops = [{"requestBody": transfer_body(acct, card, 1)}]
        r = await api.call("POST", "/bulks/transfers", json=ops, check=False)
        assert r.status == 401
    assert fake.response_violations == []


async def test_an_exception_leaving_the_block_is_not_masked(
    session: aiohttp.ClientSession,
) -> None:
    fake = FakeBackOffice(strict=True, token_shape="string")

    async def fail_inside_the_block() -> None:
        async with fake:
            body = {"identity": {"type": "CORPORATE", "id": fake.add_identity().id}}
            await Api(fake, session).call("POST", "/access_token", json=body, check=False)
            raise RuntimeError("the test's own")

    with pytest.raises(RuntimeError, match="the test's own"):
        await fail_inside_the_block()
    assert fake.response_violations


async def test_without_a_block_raise_for_violations_reports_them(
    session: aiohttp.ClientSession,
) -> None:
    fake = FakeBackOffice(strict=True, token_shape="string")
    await fake.start()
    try:
        body = {"identity": {"type": "CORPORATE", "id": fake.add_identity().id}}
        await Api(fake, session).call("POST", "/access_token", json=body, check=False)
    finally:
        await fake.close()
    with pytest.raises(ContractViolation):
        fake.raise_for_violations()


def test_strict_mode_brings_its_own_validators() -> None:
    with pytest.raises(ValueError, match="strict=True brings its own validators"):
        FakeBackOffice(strict=True, request_validator=lambda request: None)
    assert not FakeBackOffice().strict


def test_without_its_dependencies_strict_mode_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in sys.modules if n.startswith("weavr_async.testing.contract")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match=r"pip install 'weavr-async\[strict\]'"):
        FakeBackOffice(strict=True)
