"""Statements: paging and order, windows and filters, balances, arrivals, exports."""

from __future__ import annotations

from typing import Any

from weavr_async.testing import FakeBackOffice, SeededIdentity

from .conftest import Api

DAY_MS = 24 * 3600 * 1000


async def walk(api: Api, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every entry of a statement query, 500 a page, checking the count on each page."""
    entries: list[dict[str, Any]] = []
    count = None
    while True:
        page = (
            await api.call(
                "GET",
                path,
                params=[*params, ("statementLimit", "500"), ("offset", str(len(entries)))],
            )
        ).json
        assert count is None or page["count"] == count
        count = page["count"]
        entries += page["entry"]
        if page["responseCount"] < 500:
            assert len(entries) == count
            return entries


async def test_a_statement_is_newest_first_100_a_page_by_default(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=1234)
    await api.login(corp)
    ledger = sim.ledger(acct)
    assert len(ledger) == 1234
    body = (await api.call("GET", f"/managed_accounts/{acct.id}/statement")).json
    assert body["count"] == 1234
    assert body["responseCount"] == 100 == len(body["entry"])
    assert body["entry"] == list(reversed(ledger))[:100]


async def test_an_ascending_walk_serves_the_whole_ledger_once_in_time_order(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=1234)
    await api.login(corp)
    walked = await walk(
        api, f"/managed_accounts/{acct.id}/statement", [("orderByTimestamp", "ASC")]
    )
    assert walked == sim.ledger(acct)
    ts = [e["processedTimestamp"] for e in walked]
    assert ts == sorted(ts)
    assert len({e["transactionId"]["id"] for e in walked}) == 1234


async def test_the_last_page_is_short_and_one_past_the_end_empty_but_counted(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=1234)
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    last = (await api.call("GET", path, params={"offset": 1230})).json
    assert last["responseCount"] == 4
    assert last["entry"][-1] == sim.ledger(acct)[0]
    past = (await api.call("GET", path, params={"offset": 5000})).json
    assert past["entry"] == []
    assert past["count"] == 1234
    assert past["responseCount"] == 0


async def test_descending_order_reverses_entries_of_the_same_millisecond(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=3)
    sim.post_transactions(acct, 5)  # five entries at the same millisecond
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    asc = (await api.call("GET", path, params={"orderByTimestamp": "ASC"})).json["entry"]
    desc = (await api.call("GET", path)).json["entry"]
    assert desc == list(reversed(asc))
    assert len({e["processedTimestamp"] for e in asc[-5:]}) == 1


async def test_a_timestamp_window_is_half_open_and_its_balances_bound_it(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=2000)
    await api.login(corp)
    ledger = sim.ledger(acct)
    lo, hi = ledger[500]["processedTimestamp"], ledger[900]["processedTimestamp"]
    expected = [e for e in ledger if lo <= e["processedTimestamp"] < hi]
    params = {
        "fromTimestamp": lo,
        "toTimestamp": hi,
        "orderByTimestamp": "ASC",
        "statementLimit": 500,
    }
    body = (await api.call("GET", f"/managed_accounts/{acct.id}/statement", params=params)).json
    assert body["count"] == len(expected)
    assert body["entry"] == expected
    start = body["startBalance"]["amount"]
    end = body["endBalance"]["amount"]
    assert start + sum(e["actualBalanceAdjustment"]["amount"] for e in expected) == end


async def test_repeated_transaction_types_select_their_union(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=2000)
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    types = [("transactionType", "DEPOSIT"), ("transactionType", "CHARGE_FEE")]
    want = [e for e in sim.ledger(acct) if e["transactionId"]["type"] in ("DEPOSIT", "CHARGE_FEE")]
    assert await walk(api, path, types) == list(reversed(want))
    one = (
        await api.call("GET", path, params={"transactionType": "DEPOSIT", "statementLimit": 1})
    ).json
    assert one["entry"][0]["transactionId"]["type"] == "DEPOSIT"


async def test_fund_movements_only_hides_entries_that_move_nothing(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=2000)
    await api.login(corp)
    params = {"showFundMovementsOnly": "true", "statementLimit": 500}
    fund = (await api.call("GET", f"/managed_accounts/{acct.id}/statement", params=params)).json
    assert all(
        e["actualBalanceAdjustment"]["amount"] != 0 or e["transactionFee"]["amount"]
        for e in fund["entry"]
    )


async def test_type_filters_follow_new_entries(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp, history=500)
    await api.login(corp)
    path = f"/managed_cards/{card.id}/statement"
    both = [("transactionType", "SETTLEMENT"), ("transactionType", "TRANSFER")]
    single = [("transactionType", "SETTLEMENT")]

    def expected(*kinds: str) -> int:
        return sum(1 for e in sim.ledger(card) if e["transactionId"]["type"] in kinds)

    assert (await api.call("GET", path, params=both)).json["count"] == expected(
        "SETTLEMENT", "TRANSFER"
    )
    first = (await api.call("GET", path, params=single)).json["count"]
    sim.post_transactions(card, 60)
    assert (await api.call("GET", path, params=both)).json["count"] == expected(
        "SETTLEMENT", "TRANSFER"
    )
    after = (await api.call("GET", path, params=single)).json["count"]
    assert after == expected("SETTLEMENT") >= first


async def test_invalid_statement_parameters_answer_400(
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
        assert r.json["validationErrors"]
        assert r.json["message"]
    assert (await api.call("GET", apath, params={"statementLimit": "500"})).status == 200


async def test_a_card_statement_pages_by_limit_not_statement_limit(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp, history=10)
    await api.login(corp)
    params = {"limit": "100", "statementLimit": "7"}
    r = await api.call("GET", f"/managed_cards/{card.id}/statement", params=params)
    assert r.status == 200
    assert r.json["responseCount"] == 10


async def test_seeded_histories_chain_their_balances_over_years(
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
        assert span > 2 * 365 * DAY_MS
        assert ledger[-1]["processedTimestamp"] < sim.now_ms()


async def test_a_debit_card_statement_carries_no_balances(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, currency="GBP")
    card = sim.add_managed_card(corp, history=40, mode="DEBIT_MODE", parent_account=acct)
    assert card.currency == "GBP"
    assert card.mode == "DEBIT_MODE"
    await api.login(corp)
    body = (await api.call("GET", f"/managed_cards/{card.id}/statement")).json
    assert body["count"] == 40
    assert "startBalance" not in body
    assert "endBalance" not in body
    assert all("balanceAfter" not in e for e in body["entry"])
    got = (await api.call("GET", f"/managed_cards/{card.id}")).json
    assert got["mode"] == "DEBIT_MODE"
    assert got["parentManagedAccountId"] == acct.id
    assert "balances" not in got


async def test_arrivals_post_new_entries_to_the_statement_served(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
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
    balance = 0
    for e in sim.ledger(acct):
        balance += e["actualBalanceAdjustment"]["amount"]
        assert e["balanceAfter"]["amount"] == balance


async def test_posted_transactions_come_after_the_newest_entry(
    sim: FakeBackOffice, corp: SeededIdentity
) -> None:
    card = sim.add_managed_card(corp, history=5)
    sim.post_transactions(card, 4)
    ledger = sim.ledger(card)
    assert len(ledger) == 9
    assert ledger[-1]["processedTimestamp"] >= ledger[-5]["processedTimestamp"]


async def test_a_fixed_to_timestamp_is_a_snapshot_arrivals_leave_alone(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=50)
    await api.login(corp)
    now = sim.now_ms()
    sim.arrivals_per_statement_request = 2
    path = f"/managed_accounts/{acct.id}/statement"
    snap = (await api.call("GET", path, params={"toTimestamp": now})).json
    again = (await api.call("GET", path, params={"toTimestamp": now})).json
    assert snap["count"] == again["count"] == 50


async def test_a_statement_exports_as_csv_and_pdf(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=30)
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    r = await api.call("GET", path, headers={"Accept": "text/csv"}, params={"statementLimit": 7})
    assert r.headers["Content-Type"].startswith("text/csv")
    lines = r.body.decode().strip().splitlines()
    assert lines[0].startswith("transactionId.type,transactionId.id")
    assert len(lines) == 8
    r = await api.call("GET", path, headers={"Accept": "application/pdf"})
    assert r.headers["Content-Type"].startswith("application/pdf")
    assert r.body.startswith(b"%PDF-1.4")
    assert r.body.rstrip().endswith(b"%%EOF")


async def test_an_accept_header_of_no_export_gets_json(
    sim: FakeBackOffice, api: Api, corp: SeededIdentity
) -> None:
    acct = sim.add_managed_account(corp, history=30)
    await api.login(corp)
    path = f"/managed_accounts/{acct.id}/statement"
    r = await api.call("GET", path, headers={"Accept": "image/png"})
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json["count"] == 30
