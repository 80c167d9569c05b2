"""Authorised users: creating (emails unique), inviting, deactivating."""

from __future__ import annotations

from typing import Any

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api

ADA: dict[str, Any] = {
    "name": "Ada",
    "surname": "Lovelace",
    "email": "ada@example.com",
    "mobile": {"countryCode": "+356", "number": "79123456"},
    "dateOfBirth": {"year": 1990, "month": 12, "day": 10},
    "roles": ["ADMIN"],
    "locale": "en-GB",
}


async def test_a_new_user_is_active_and_keeps_its_details(api: Api, corp: SeededIdentity) -> None:
    await api.login(corp)
    r = await api.call("POST", "/users", json=ADA)
    user = r.json
    assert r.status == 200
    assert user["active"] is True
    assert user["identity"]["id"] == corp.id
    assert user["mobile"] == ADA["mobile"]
    assert user["roles"] == ["ADMIN"]


async def test_emails_are_unique_whatever_their_case(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    sim.add_user(corp, email="seeded@example.com")
    await api.login(corp)
    r = await api.call("POST", "/users", json={**ADA, "email": "SEEDED@example.com"})
    assert r.json == {"errorCode": "EMAIL_NOT_UNIQUE"}


async def test_an_invalid_user_is_400_with_syntax_errors(api: Api, corp: SeededIdentity) -> None:
    await api.login(corp)
    bad_bodies = [
        {**ADA, "name": ""},
        {**ADA, "email": "nope"},
        {**ADA, "roles": ["KING"]},
        {**ADA, "dateOfBirth": {"year": 1800, "month": 1, "day": 1}},
        {"name": "x"},
    ]
    for bad in bad_bodies:
        r = await api.call("POST", "/users", json=bad)
        assert r.status == 400
        assert r.json["syntaxErrors"]["invalidFields"]


async def test_an_invite_can_be_sent_until_it_is_consumed(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    seeded = sim.add_user(corp)
    await api.login(corp)
    created = (await api.call("POST", "/users", json=ADA)).json
    assert (await api.call("POST", f"/users/{created['id']}/invite")).status == 204
    sim.consume_invite(seeded)
    r = await api.call("POST", f"/users/{seeded.id}/invite")
    assert r.json == {"errorCode": "INVITE_ALREADY_CONSUMED"}


async def test_deactivating_and_whose_users_one_may_touch(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    seeded = sim.add_user(corp)
    other_user = sim.add_user(sim.add_identity("CONSUMER"))
    await api.login(corp)
    assert (await api.call("POST", f"/users/{seeded.id}/deactivate")).status == 204
    assert (await api.call("POST", f"/users/{other_user.id}/invite")).status == 403
    assert (await api.call("POST", "/users/999/deactivate")).status == 404
    assert (await api.call("POST", "/users/abc/deactivate")).status == 400
