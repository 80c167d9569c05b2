"""The contract's checks (`weavr_async.testing.contract`), on requests and answers written by
hand: what strict mode holds the simulator and the SDK to."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weavr_async.testing import FakeBackOffice, contract

AUTH = {"api-key": "test-api-key", "Authorization": "Bearer test-token"}
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}


def _transfer(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "profileId": "110",
        "tag": "rent_2024-05",
        "source": {"id": "1001", "type": "managed_accounts"},
        "destination": {"id": "2002", "type": "managed_cards"},
        "destinationAmount": {"currency": "EUR", "amount": 1250},
        "description": "May rent (flat #4)",
    }
    body.update(overrides)
    return body


def _managed_account(**overrides: Any) -> dict[str, Any]:
    account: dict[str, Any] = {
        "id": "1001",
        "profileId": "110",
        "tag": "main",
        "friendlyName": "Main account",
        "currency": "EUR",
        "balances": {"availableBalance": 1000, "actualBalance": 1000},
        "state": {"state": "ACTIVE"},
        "creationTimestamp": 1_700_000_000_000,
    }
    account.update(overrides)
    return account


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_the_checks_know_the_32_operations_the_simulator_serves() -> None:
    assert len(contract.operation_ids()) == 32
    assert contract.operation_ids() == FakeBackOffice.operation_ids()


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def test_conforming_requests_pass() -> None:
    statement = [
        ("offset", "0"),
        ("statementLimit", "500"),
        ("orderByTimestamp", "ASC"),
        ("fromTimestamp", "1700000000000"),
        ("showFundMovementsOnly", "true"),
        ("transactionType", "TRANSFER"),
        ("transactionType", "DEPOSIT"),
    ]
    ok: list[tuple[str, str, list[tuple[str, str]], dict[str, str], bytes]] = [
        ("GET", "/managed_accounts/123/statement", statement, AUTH, b""),
        ("GET", "/managed_accounts/123", [], AUTH, b""),
        (
            "GET",
            "/managed_cards/9/statement",
            [("limit", "100")],
            {**AUTH, "accept": "text/csv"},
            b"",
        ),
        ("POST", "/transfers", [], {**JSON_AUTH, "idempotency-ref": "abc"}, _json(_transfer())),
        ("GET", "/transfers", [], AUTH, b""),
        (
            "GET",
            "/transfers",
            [("id", "1001"), ("type", "managed_accounts"), ("state", "COMPLETED")],
            AUTH,
            b"",
        ),
        (
            "POST",
            "/access_token",
            [],
            {"API-KEY": "k", "content-type": "application/json; charset=utf-8"},
            _json({"identity": {"type": "CORPORATE", "id": "77"}}),
        ),
        ("POST", "/managed_cards/5/block", [], AUTH, b""),
        ("POST", "/bulks/7/execute", [], JSON_AUTH, _json({})),
        ("PATCH", "/managed_cards/5/renewal", [], JSON_AUTH, _json({"renewalType": "NO_RENEW"})),
        ("POST", "/users/12/invite", [], AUTH, b""),
    ]
    for method, path, query, headers, body in ok:
        assert contract.request_violation(method, path, query, headers, body) is None, path


def test_statement_limit_above_500_is_a_violation() -> None:
    query = [("statementLimit", "501")]
    problem = contract.request_violation("GET", "/managed_accounts/1/statement", query, AUTH, b"")
    assert problem is not None
    assert "statementLimit" in problem
    assert "500" in problem


def test_limit_above_100_is_a_violation() -> None:
    problem = contract.request_violation(
        "GET", "/managed_cards/1/statement", [("limit", "101")], AUTH, b""
    )
    assert problem is not None
    assert "'limit'" in problem


def test_non_digit_id_is_a_violation() -> None:
    problem = contract.request_violation("GET", "/managed_accounts/abc", [], AUTH, b"")
    assert problem is not None
    assert "'id'" in problem
    assert "abc" in problem


def test_missing_api_key_is_a_violation() -> None:
    headers = {"Authorization": "Bearer t"}
    problem = contract.request_violation("GET", "/managed_accounts/1", [], headers, b"")
    assert problem is not None
    assert "api-key" in problem


def test_missing_or_malformed_bearer_token_is_a_violation() -> None:
    for headers in ({"api-key": "k"}, {"api-key": "k", "Authorization": "Basic abc"}):
        problem = contract.request_violation("GET", "/managed_accounts/1", [], headers, b"")
        assert problem is not None
        assert "Bearer" in problem
    # The access token operation only needs the api key.
    body = _json({"identity": {"type": "CONSUMER", "id": "1"}})
    headers = {"api-key": "k", "Content-Type": "application/json"}
    assert contract.request_violation("POST", "/access_token", [], headers, body) is None


def test_missing_required_body_field_is_a_violation() -> None:
    body = _transfer()
    del body["destinationAmount"]
    problem = contract.request_violation("POST", "/transfers", [], JSON_AUTH, _json(body))
    assert problem is not None
    assert "destinationAmount" in problem


def test_wrong_enum_is_a_violation() -> None:
    body = _json(_transfer(source={"id": "1", "type": "bogus"}))
    problem = contract.request_violation("POST", "/transfers", [], JSON_AUTH, body)
    assert problem is not None
    assert "bogus" in problem
    query = [("orderByTimestamp", "SIDEWAYS")]
    problem = contract.request_violation("GET", "/managed_cards/1/statement", query, AUTH, b"")
    assert problem is not None
    assert "SIDEWAYS" in problem
    query = [("transactionType", "TRANSFER"), ("transactionType", "NOPE")]
    problem = contract.request_violation("GET", "/managed_cards/1/statement", query, AUTH, b"")
    assert problem is not None
    assert "NOPE" in problem


def test_transfer_description_pattern_is_enforced() -> None:
    body = _json(_transfer(description="tab\tis not allowed? no: \\ backslash ~"))
    problem = contract.request_violation("POST", "/transfers", [], JSON_AUTH, body)
    assert problem is not None
    assert "description" in problem


def test_query_values_are_typed_and_single() -> None:
    cases = [
        [("offset", "ten")],
        [("offset", "-1")],
        [("offset", "1"), ("offset", "2")],
        [("limit", "")],
        [("showFundMovementsOnly", "True")],
        [("unexpected", "1")],
    ]
    for query in cases:
        problem = contract.request_violation(
            "GET", "/managed_accounts/1/statement", query, AUTH, b""
        )
        assert problem is not None, query


def test_instrument_id_filter_is_form_exploded() -> None:
    # `instrumentId` (GET /transfers) is an object parameter with style=form, explode=true, so
    # it travels as top-level `id` and `type` keys; leaving it out is fine.
    def check(query: list[tuple[str, str]]) -> str | None:
        return contract.request_violation("GET", "/transfers", query, AUTH, b"")

    assert check([]) is None
    assert check([("id", "5"), ("type", "managed_cards")]) is None
    assert "type" in (check([("id", "5")]) or "")
    assert "managed_things" in (check([("id", "5"), ("type", "managed_things")]) or "")
    assert "instrumentId" in (check([("instrumentId", "5")]) or "")


def test_body_media_type_and_presence() -> None:
    body = _json(_transfer())
    assert contract.request_violation("POST", "/transfers", [], AUTH, body) is not None
    text_headers = {**AUTH, "Content-Type": "text/plain"}
    assert contract.request_violation("POST", "/transfers", [], text_headers, body) is not None
    assert contract.request_violation("POST", "/transfers", [], JSON_AUTH, b"{nope") is not None
    assert contract.request_violation("POST", "/transfers", [], JSON_AUTH, b"") is not None
    assert contract.request_violation("POST", "/bulks/1/execute", [], JSON_AUTH, b"") is not None
    problem = contract.request_violation("POST", "/managed_cards/1/block", [], JSON_AUTH, b"{}")
    assert problem is not None
    assert "takes none" in problem


def test_charge_fee_destination_is_not_required_in_requests() -> None:
    # ChargeFee (the response) lists `destination` as required without defining it; the
    # request schema (Fee) only needs feeType and source.
    body = _json({"feeType": "MONTHLY", "source": {"id": "1", "type": "managed_accounts"}})
    assert contract.request_violation("POST", "/fees/charge", [], JSON_AUTH, body) is None


def test_unknown_paths_and_methods() -> None:
    problem = contract.request_violation("GET", "/nowhere", [], AUTH, b"")
    assert problem is not None
    assert "no path" in problem
    problem = contract.request_violation("DELETE", "/transfers", [], AUTH, b"")
    assert problem is not None
    assert "not allowed" in problem


def test_operation_for() -> None:
    assert contract.operation_for("GET", "/managed_accounts/1/statement") == (
        "managedAccountStatement"
    )
    assert contract.operation_for("get", "/managed_accounts/1") == "managedAccountGet"
    assert contract.operation_for("PATCH", "/managed_cards/1/spend_rules") == (
        "managedCardSpendRulesUpdate"
    )
    assert contract.operation_for("POST", "/bulks/transfers") == "bulksTransferCreate"
    assert contract.operation_for("PATCH", "/bulks/managed_cards/_id_/spend_rules") == (
        "bulksManagedCardSpendRulesUpdate"
    )
    assert contract.operation_for("POST", "/bulks/3/cancel") == "bulkIdCancel"
    assert contract.operation_for("GET", "/transfers?offset=0") == "transfersGet"
    assert contract.operation_for("PUT", "/transfers") is None
    assert contract.operation_for("GET", "/managed_accounts") is None


@dataclass
class _RecordedRequest:
    method: str
    path: str
    query: Any = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


def test_make_request_validator_adapter() -> None:
    check = contract.make_request_validator()
    good = _RecordedRequest("GET", "/transfers/42", [], AUTH)
    assert check(good) is None
    bad = _RecordedRequest("POST", "/transfers", [], JSON_AUTH, _json({"profileId": "1"}))
    assert check(bad) is not None
    as_mapping = _RecordedRequest("GET", "/bulks", {"limit": "101"}, AUTH)
    assert check(as_mapping) is not None


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------

REF = {"request-ref": "req-1"}


def test_conforming_managed_account_response_passes() -> None:
    problem = contract.response_violation(
        "GET",
        "/managed_accounts/1001",
        200,
        REF,
        _json(_managed_account()),
        "application/json; charset=utf-8",
    )
    assert problem is None


def test_managed_account_response_missing_currency_fails() -> None:
    account = _managed_account()
    del account["currency"]
    problem = contract.response_violation(
        "GET", "/managed_accounts/1001", 200, REF, _json(account), "application/json"
    )
    assert problem is not None
    assert "currency" in problem


def test_response_headers_are_checked() -> None:
    body = _json(_managed_account())
    problem = contract.response_violation(
        "GET", "/managed_accounts/1001", 200, {}, body, "application/json"
    )
    assert problem is not None
    assert "request-ref" in problem
    limited = {**REF, "x-ratelimit-limit": "20, 10;w=60", "x-ratelimit-reset": "-5"}
    problem = contract.response_violation("POST", "/users", 429, limited, b"", "")
    assert problem is not None
    assert "x-ratelimit-reset" in problem
    limited["x-ratelimit-reset"] = "30"
    assert contract.response_violation("POST", "/users", 429, limited, b"", "") is None


def test_response_status_and_bodies() -> None:
    # 204: no body allowed
    assert contract.response_violation("POST", "/managed_cards/1/block", 204, REF, b"", "") is None
    problem = contract.response_violation(
        "POST", "/managed_cards/1/block", 204, REF, b"{}", "application/json"
    )
    assert problem is not None
    # undocumented status falls back to `default` (Error schema)
    error = _json({"code": "TEAPOT", "message": "short and stout"})
    ok = contract.response_violation(
        "POST", "/managed_cards/1/block", 418, {}, error, "application/json"
    )
    assert ok is None
    bad = contract.response_violation(
        "POST", "/managed_cards/1/block", 418, {}, _json({"code": 7}), "application/json"
    )
    assert bad is not None
    # conflict error codes are enums
    conflict = _json({"errorCode": "FUNDS_INSUFFICIENT"})
    assert (
        contract.response_violation("POST", "/transfers", 409, {}, conflict, "application/json")
        is None
    )
    wrong = _json({"errorCode": "NOT_A_CODE"})
    assert (
        contract.response_violation("POST", "/transfers", 409, {}, wrong, "application/json")
        is not None
    )
    # bulk submissions document only 201
    problem = contract.response_violation(
        "POST", "/bulks/transfers", 200, {}, b"{}", "application/json"
    )
    assert problem is not None
    assert "not documented" in problem


def test_statement_exports_are_not_body_validated() -> None:
    path = "/managed_accounts/1/statement"
    for media in ("text/csv", "application/pdf"):
        assert contract.response_violation("GET", path, 200, REF, b"\x00raw", media) is None
    problem = contract.response_violation("GET", path, 200, REF, b"<p>", "text/html")
    assert problem is not None
    assert "text/html" in problem
    statement = {"entry": [], "count": 0, "responseCount": 0}
    assert (
        contract.response_violation("GET", path, 200, REF, _json(statement), "application/json")
        is None
    )


def test_charge_fee_response_allows_its_undefined_destination() -> None:
    fee = {
        "transactionId": {"type": "CHARGE_FEE", "id": "9"},
        "profileId": "3",
        "feeType": "MONTHLY",
        "source": {"id": "1", "type": "managed_accounts"},
        "destination": {"anything": "goes"},
        "availableBalanceAdjustment": {"currency": "EUR", "amount": -100},
        "state": "COMPLETED",
        "creationTimestamp": 1,
    }
    ok = contract.response_violation(
        "POST", "/fees/charge", 200, REF, _json(fee), "application/json"
    )
    assert ok is None
    del fee["destination"]
    missing = contract.response_violation(
        "POST", "/fees/charge", 200, REF, _json(fee), "application/json"
    )
    assert missing is not None
    assert "destination" in missing


# --------------------------------------------------------------------------------------------
# Cross-check against openapi-core and speed
# --------------------------------------------------------------------------------------------


def test_agrees_with_openapi_core() -> None:
    # openapi-core's request validator on the cases both implementations support (it does not
    # deserialise form-exploded object query parameters, nor reject unknown query keys).
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest

    api = OpenAPI.from_dict(dict(contract.spec_document()))
    cases: list[tuple[str, str, list[tuple[str, str]], dict[str, str], bytes]] = [
        ("GET", "/managed_accounts/1/statement", [("statementLimit", "500")], AUTH, b""),
        ("GET", "/managed_accounts/1/statement", [("statementLimit", "501")], AUTH, b""),
        ("GET", "/managed_cards/1/statement", [("limit", "100")], AUTH, b""),
        ("GET", "/managed_cards/1/statement", [("limit", "101")], AUTH, b""),
        (
            "GET",
            "/managed_cards/1/statement",
            [("transactionType", "TRANSFER"), ("transactionType", "DEPOSIT")],
            AUTH,
            b"",
        ),
        ("GET", "/managed_cards/1/statement", [("transactionType", "NOPE")], AUTH, b""),
        ("GET", "/managed_accounts/abc", [], AUTH, b""),
        ("GET", "/managed_accounts/1", [], {"Authorization": "Bearer t"}, b""),
        ("GET", "/managed_accounts/1", [], {"api-key": "k"}, b""),
        ("GET", "/transfers", [("state", "COMPLETED"), ("createdFrom", "5")], AUTH, b""),
        ("GET", "/transfers", [("createdFrom", "soon")], AUTH, b""),
        ("POST", "/transfers", [], JSON_AUTH, _json(_transfer())),
        ("POST", "/transfers", [], JSON_AUTH, _json({"profileId": "1"})),
        ("POST", "/transfers", [], JSON_AUTH, _json(_transfer(tag="no spaces allowed"))),
        ("POST", "/users", [], JSON_AUTH, _json({"email": "a@b.c", "name": "A", "surname": "B"})),
        ("POST", "/users", [], JSON_AUTH, _json({"email": "a@b.c", "name": "", "surname": "B"})),
        ("POST", "/bulks/1/execute", [], JSON_AUTH, _json({"mode": "ON_FAILURE_STOP"})),
        ("POST", "/bulks/1/execute", [], JSON_AUTH, _json({"mode": "SOMETIMES"})),
        ("GET", "/bulks", [("status", "RUNNING"), ("offset", "3")], AUTH, b""),
        ("GET", "/bulks", [("status", "SLEEPING")], AUTH, b""),
        ("GET", "/nowhere", [], AUTH, b""),
    ]
    for method, path, query, headers, body in cases:
        request = MockRequest(
            "https://sandbox.weavr.io",
            method.lower(),
            "/multi/backoffice" + path,
            args=query,  # type: ignore[arg-type]  # a list of pairs keeps repeated keys
            headers=headers,
            data=body,
            content_type=headers.get("Content-Type", "application/json"),
        )
        try:
            api.validate_request(request)
        except Exception:  # any validation error
            core_ok = False
        else:
            core_ok = True
        ours = contract.request_violation(method, path, query, headers, body)
        assert (ours is None) == core_ok, (method, path, query, ours)


def test_request_check_is_fast() -> None:
    check = contract.make_request_validator()
    requests = [
        _RecordedRequest(
            "GET",
            "/managed_accounts/1/statement",
            [("statementLimit", "50"), ("transactionType", "TRANSFER")],
            AUTH,
        ),
        _RecordedRequest("POST", "/transfers", [], JSON_AUTH, _json(_transfer())),
        _RecordedRequest("GET", "/transfers", [("id", "1"), ("type", "managed_cards")], AUTH),
    ]
    rounds = 100
    start = time.perf_counter()
    for _ in range(rounds):
        for request in requests:
            assert check(request) is None
    per_request = (time.perf_counter() - start) / (rounds * len(requests))
    assert per_request < 0.005, f"{per_request * 1000:.2f} ms per request"


@dataclass
class _Answered:
    method: str
    path: str
    operation_id: str | None


def test_the_response_validator_exempts_only_the_bulk_submissions_undeclared_errors() -> None:
    assert {
        ("bulksTransferCreate", 400),
        ("bulksTransferCreate", 401),
        ("bulksManagedCardSpendRulesUpdate", 400),
        ("bulksManagedCardSpendRulesUpdate", 401),
    } == contract.UNDECLARED_RESPONSES
    check = contract.make_response_validator()
    transfers = _Answered("POST", "/bulks/transfers", "bulksTransferCreate")
    rules = _Answered(
        "PATCH", "/bulks/managed_cards/_id_/spend_rules", "bulksManagedCardSpendRulesUpdate"
    )
    for request in (transfers, rules):
        for status in (400, 401):
            assert check(request, status, {}, b"", "") is None
        problem = check(request, 409, {}, b"", "")
        assert problem is not None
        assert "not documented" in problem
