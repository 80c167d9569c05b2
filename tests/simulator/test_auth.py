"""Credentials: the API key, identity tokens, and what an identity may see."""

from __future__ import annotations

import aiohttp

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api


async def test_without_the_api_key_a_call_is_401_with_no_body(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp)
    await api.login(corp)
    r = await api.call("GET", f"/managed_accounts/{acct.id}", api_key=False)
    assert r.status == 401
    assert r.body == b""
    r = await api.call("GET", f"/managed_accounts/{acct.id}", headers={"api-key": "wrong"})
    assert r.status == 401


async def test_without_a_live_bearer_token_a_call_is_401(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp)
    assert (await api.call("GET", f"/managed_accounts/{acct.id}")).status == 401
    api.token = "nope"
    assert (await api.call("GET", f"/managed_accounts/{acct.id}")).status == 401
    await api.login(corp)
    r = await api.call("GET", f"/managed_accounts/{acct.id}")
    assert r.status == 200
    assert r.json["id"] == acct.id


async def test_another_identitys_records_answer_403(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    other = sim.add_identity("CORPORATE")
    foreign = sim.add_managed_account(other)
    foreign_card = sim.add_managed_card(other)
    await api.login(corp)
    r = await api.call("GET", f"/managed_accounts/{foreign.id}")
    assert r.status == 403
    assert r.json == {"errorCode": "INSUFFICIENT_PERMISSIONS"}
    assert (await api.call("GET", f"/managed_cards/{foreign_card.id}/statement")).status == 403


async def test_unknown_ids_answer_404_and_an_account_id_is_no_card_id(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp)
    await api.login(corp)
    r = await api.call("GET", "/managed_accounts/999999999")
    assert r.status == 404
    assert r.json["code"] == "NOT_FOUND"
    assert (await api.call("GET", f"/managed_cards/{acct.id}")).status == 404


async def test_a_malformed_id_answers_400_naming_the_field(api: Api, corp: SeededIdentity) -> None:
    await api.login(corp)
    r = await api.call("GET", "/managed_accounts/12ab")
    assert r.status == 400
    assert r.json["validationErrors"][0]["fieldName"] == "id"


async def test_each_token_request_issues_a_new_token_and_all_stay_live(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    token = await api.login(corp)
    r = await api.call(
        "POST", "/access_token", json={"identity": {"type": "CORPORATE", "id": corp.id}}
    )
    assert r.json["identity"] == {"type": "CORPORATE", "id": corp.id}
    assert r.json["token"]["token"] != token
    assert sim.token_requests == 2
    assert sim.count("requestAccessToken") == 2
    assert (await api.call("GET", "/transfers")).status == 200  # the first is still live


async def test_no_token_for_an_unknown_or_mistyped_identity(api: Api, corp: SeededIdentity) -> None:
    r = await api.call(
        "POST", "/access_token", json={"identity": {"type": "CONSUMER", "id": corp.id}}
    )
    assert r.status == 409
    assert r.json == {"errorCode": "UNRESOLVED_IDENTITY"}
    r = await api.call("POST", "/access_token", json={"identity": {"type": "CORPORATE", "id": "1"}})
    assert r.status == 409


async def test_an_invalid_token_request_is_400(api: Api) -> None:
    r = await api.call("POST", "/access_token", json={"identity": {"type": "X", "id": "a"}})
    assert r.status == 400
    assert len(r.json["validationErrors"]) == 2
    r = await api.call("POST", "/access_token", data=b"{not json")
    assert r.status == 400


async def test_a_refused_identity_gets_no_token_until_allowed_again(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    body = {"identity": {"type": "CORPORATE", "id": corp.id}}
    sim.refuse_identity(corp)
    assert (await api.call("POST", "/access_token", json=body)).status == 409
    sim.refuse_identity(corp, refused=False)
    assert (await api.call("POST", "/access_token", json=body)).status == 200


async def test_expired_tokens_answer_401(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    await api.login(corp)
    sim.expire_tokens(corp)
    assert (await api.call("GET", "/transfers")).status == 401


async def test_token_shape_string_answers_a_bare_token(session: aiohttp.ClientSession) -> None:
    async with FakeBackOffice(seed=5, token_shape="string") as fake:
        api = Api(fake, session)
        ident = fake.add_identity("CONSUMER")
        body = {"identity": {"type": "CONSUMER", "id": ident.id}}
        # Off-contract on purpose: some deployments answer a bare string.
        r = await api.call("POST", "/access_token", json=body, check=False)
        assert isinstance(r.json["token"], str)


async def test_impersonation_needs_a_live_token_and_issues_a_new_one(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeBackOffice(seed=5, token_shape="string") as fake:
        api = Api(fake, session)
        ident = fake.add_identity("CONSUMER")
        body = {"identity": {"type": "CONSUMER", "id": ident.id}}
        r = await api.call("POST", "/impersonate_identity_login", json=body, check=False)
        assert r.status == 401  # the deprecated login needs a bearer token too
        api.token = first = (await api.call("POST", "/access_token", json=body, check=False)).json[
            "token"
        ]
        r = await api.call("POST", "/impersonate_identity_login", json=body, check=False)
        assert r.status == 200
        assert r.json["token"] != first
        fake.expire_tokens()
        r = await api.call("POST", "/impersonate_identity_login", json=body, check=False)
        assert r.status == 401
