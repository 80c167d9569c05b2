"""Tests for the committed contract (spec/backoffice.openapi.yaml) and tests/contract.py.

Only the committed spec is read here; the upstream document is never touched.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import contract
import pytest
import yaml
from openapi_spec_validator import validate as validate_openapi

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_FILE = REPO_ROOT / "spec" / "backoffice.openapi.yaml"
REFRESH_SCRIPT = REPO_ROOT / "spec" / "refresh_spec.py"

EXPECTED_OPERATION_IDS = frozenset(
    {
        # access
        "impersonateIdentityLogin",
        "requestAccessToken",
        # bulk processes
        "bulks",
        "bulkId",
        "bulkIdOperations",
        "bulkIdExecute",
        "bulkIdPause",
        "bulkIdResume",
        "bulkIdCancel",
        "bulksManagedCardSpendRulesUpdate",
        "bulksTransferCreate",
        # fees
        "chargeFee",
        "corporateChargeFee",
        "consumerChargeFee",
        # managed accounts
        "managedAccountGet",
        "managedAccountStatement",
        # managed cards
        "managedCardGet",
        "managedCardRenewalTypeUpdate",
        "managedCardRemove",
        "managedCardBlock",
        "managedCardUnblock",
        "managedCardSpendRulesGet",
        "managedCardSpendRulesCreate",
        "managedCardSpendRulesUpdate",
        "managedCardSpendRulesDelete",
        "managedCardStatement",
        # transfers
        "transferCreate",
        "transfersGet",
        "transferGet",
        # authorised users
        "userCreate",
        "userDeactivate",
        "userInviteSend",
    }
)

TRANSFER_DESCRIPTION_PATTERN = "^[a-zA-Z0-9\\/\\-?:().$_,'+\\s#=!\"%&*<>;\\{@\\r\\n]*$"

# Keys whose values map *names* to objects: a `description` key directly below one of these
# is a name (e.g. a schema property), not an annotation.
NAME_MAPS = frozenset(
    {
        "paths",
        "schemas",
        "parameters",
        "responses",
        "requestBodies",
        "headers",
        "securitySchemes",
        "content",
        "properties",
        "mapping",
    }
)
PROSE_KEYS = frozenset({"description", "summary", "example", "examples", "contact", "title"})

AUTH = {"api-key": "test-api-key", "Authorization": "Bearer test-token"}
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with SPEC_FILE.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = yaml.safe_load(fh)
    return loaded


def _load_refresh_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_spec", REFRESH_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield (path, value) for every mapping entry, keys in keyword position only."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, (*path, str(index)))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            key = str(key)
            if not (path and path[-1] in NAME_MAPS):
                yield (*path, key), value
            yield from _walk(value, (*path, key))


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


# --------------------------------------------------------------------------------------------
# The committed document
# --------------------------------------------------------------------------------------------


def test_spec_is_a_valid_openapi_31_document(document: dict[str, Any]) -> None:
    assert str(document["openapi"]).startswith("3.1.")
    validate_openapi(document)


def test_spec_has_exactly_the_expected_operations(document: dict[str, Any]) -> None:
    found = [
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method in contract.HTTP_METHODS
    ]
    assert len(found) == 32
    assert len(set(found)) == len(found), "operationIds must be unique"
    assert set(found) == EXPECTED_OPERATION_IDS
    assert contract.operation_ids() == EXPECTED_OPERATION_IDS


def test_spec_has_a_generated_file_header() -> None:
    head = SPEC_FILE.read_text(encoding="utf-8").splitlines()[:10]
    assert head[0].startswith("# GENERATED FILE")
    assert any("python spec/refresh_spec.py" in line for line in head)


def test_spec_contains_no_prose_annotations(document: dict[str, Any]) -> None:
    offenders = []
    for path, _value in _walk(document):
        key = path[-1]
        if key.startswith("x-"):
            offenders.append("/".join(path))
        elif key in PROSE_KEYS:
            is_info_title = path == ("info", "title")
            is_response_label = key == "description" and len(path) >= 3 and path[-3] == "responses"
            if not (is_info_title or is_response_label):
                offenders.append("/".join(path))
    assert offenders == []


def test_response_descriptions_are_short_one_line_labels(document: dict[str, Any]) -> None:
    labels = [
        value
        for path, value in _walk(document)
        if path[-1] == "description" and len(path) >= 3 and path[-3] == "responses"
    ]
    assert labels, "every Response Object needs a description"
    for label in labels:
        assert isinstance(label, str)
        assert "\n" not in label and len(label) <= 60


def test_spec_tags_carry_names_only(document: dict[str, Any]) -> None:
    names = [tag["name"] for tag in document["tags"]]
    assert len(names) == len(set(names))
    assert all(set(tag) == {"name"} for tag in document["tags"])
    assert set(document["info"]) == {"title", "version"}


def test_transfer_description_property_is_kept(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    request = document["components"]["requestBodies"]["CreateTransferRequest"]
    for prop in (
        schemas["Transfer"]["properties"]["description"],
        request["content"]["application/json"]["schema"]["properties"]["description"],
    ):
        assert prop == {
            "type": "string",
            "maxLength": 255,
            "pattern": TRANSFER_DESCRIPTION_PATTERN,
        }


def test_statement_limit_and_limit_bounds(document: dict[str, Any]) -> None:
    params = document["components"]["parameters"]
    assert params["statementLimit"]["name"] == "statementLimit"
    assert params["statementLimit"]["schema"]["maximum"] == 500
    assert params["statementLimit"]["schema"]["minimum"] == 1
    assert params["limit"]["name"] == "limit"
    assert params["limit"]["schema"]["maximum"] == 100
    assert params["limit"]["schema"]["minimum"] == 1


def test_structure_survives(document: dict[str, Any]) -> None:
    components = document["components"]
    assert components["securitySchemes"]["api_key"] == {
        "type": "apiKey",
        "name": "api-key",
        "in": "header",
    }
    assert components["securitySchemes"]["auth_token"]["scheme"] == "bearer"
    assert components["parameters"]["userIdExplode"]["explode"] is False
    assert document["paths"]["/impersonate_identity_login"]["post"]["deprecated"] is True
    assert document["servers"] == [{"url": "https://sandbox.weavr.io/multi/backoffice"}]
    transaction_type = components["schemas"]["TransactionId"]["properties"]["type"]
    assert "MANUAL_TRANSACTION" in transaction_type["enum"]
    assert set(transaction_type) == {"enum", "type"}


def test_committed_spec_is_a_fixed_point_of_the_refresh(document: dict[str, Any]) -> None:
    # Stripping the committed document again changes nothing: nothing the refresh script
    # would remove is left in it, and its labels are exactly the ones the script writes.
    refresh = _load_refresh_module()
    assert refresh.build_contract(document) == document


# --------------------------------------------------------------------------------------------
# The refresh script, on a small synthetic input (the upstream file is never read in tests)
# --------------------------------------------------------------------------------------------

SYNTHETIC_UPSTREAM = """\
openapi: 3.1.0
info:
  title: Demo
  version: v1
  description: Long prose.
  x-logo: {url: https://example.invalid/logo.png}
  contact: {name: Someone}
servers:
  - description: Sandbox
    url: https://example.invalid/base
tags:
  - name: Things
    description: About things.
  - name: Things
    description: About things, again.
x-tagGroups:
  - name: All
    tags: [Things]
paths:
  /things/{id}:
    get:
      tags: [Things]
      summary: Get a thing
      description: Returns the thing.
      operationId: thingGet
      parameters:
        - name: id
          in: path
          required: true
          description: The id.
          schema: {type: string, pattern: '^[0-9]+$'}
      responses:
        '200':
          description: The thing, in detail.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Thing'}
        '403':
          description: Not allowed to see this thing.
        default:
          $ref: '#/components/responses/Problem'
      security:
        - key: []
components:
  securitySchemes:
    key: {type: apiKey, name: api-key, in: header, description: The key.}
  responses:
    Problem:
      description: Something went wrong.
      content:
        application/json:
          schema: {type: object}
  schemas:
    Thing:
      type: object
      description: A thing.
      required: [description, summary]
      properties:
        description:
          type: string
          maxLength: 10
          description: What the thing is.
        summary:
          $ref: '#/components/schemas/Kind'
          description: Short form.
        kind:
          type: string
          enum: [A, B]
          example: A
          x-enumDescriptions: {A: First, B: Second}
    Kind:
      type: string
      examples: [a]
"""


def test_refresh_strips_prose_but_keeps_structure() -> None:
    refresh = _load_refresh_module()
    text = refresh.render(SYNTHETIC_UPSTREAM)
    assert text == refresh.render(SYNTHETIC_UPSTREAM), "output must be deterministic"
    assert text.startswith("# GENERATED FILE")
    out = yaml.safe_load(text)
    validate_openapi(out)

    assert out["info"] == {"title": "Demo", "version": "v1"}
    assert out["servers"] == [{"url": "https://example.invalid/base"}]
    assert out["tags"] == [{"name": "Things"}]
    assert "x-tagGroups" not in out
    op = out["paths"]["/things/{id}"]["get"]
    assert set(op) == {"tags", "operationId", "parameters", "responses", "security"}
    assert op["parameters"][0] == {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
    assert op["responses"]["200"]["description"] == "OK"
    assert op["responses"]["403"] == {"description": "Forbidden"}
    assert op["responses"]["default"] == {"$ref": "#/components/responses/Problem"}
    assert out["components"]["responses"]["Problem"]["description"] == "Problem"
    assert out["components"]["securitySchemes"]["key"] == {
        "type": "apiKey",
        "name": "api-key",
        "in": "header",
    }
    thing = out["components"]["schemas"]["Thing"]
    assert thing == {
        "type": "object",
        "required": ["description", "summary"],
        "properties": {
            "description": {"type": "string", "maxLength": 10},
            "summary": {"$ref": "#/components/schemas/Kind"},
            "kind": {"type": "string", "enum": ["A", "B"]},
        },
    }
    assert out["components"]["schemas"]["Kind"] == {"type": "string"}
    for prose in ("Long prose", "About things", "Returns the thing", "What the thing is"):
        assert prose not in text


# --------------------------------------------------------------------------------------------
# contract.request_violation
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
    assert problem is not None and "statementLimit" in problem and "500" in problem


def test_limit_above_100_is_a_violation() -> None:
    problem = contract.request_violation(
        "GET", "/managed_cards/1/statement", [("limit", "101")], AUTH, b""
    )
    assert problem is not None and "'limit'" in problem


def test_non_digit_id_is_a_violation() -> None:
    problem = contract.request_violation("GET", "/managed_accounts/abc", [], AUTH, b"")
    assert problem is not None and "'id'" in problem and "abc" in problem


def test_missing_api_key_is_a_violation() -> None:
    headers = {"Authorization": "Bearer t"}
    problem = contract.request_violation("GET", "/managed_accounts/1", [], headers, b"")
    assert problem is not None and "api-key" in problem


def test_missing_or_malformed_bearer_token_is_a_violation() -> None:
    for headers in ({"api-key": "k"}, {"api-key": "k", "Authorization": "Basic abc"}):
        problem = contract.request_violation("GET", "/managed_accounts/1", [], headers, b"")
        assert problem is not None and "Bearer" in problem
    # The access token operation only needs the api key.
    body = _json({"identity": {"type": "CONSUMER", "id": "1"}})
    headers = {"api-key": "k", "Content-Type": "application/json"}
    assert contract.request_violation("POST", "/access_token", [], headers, body) is None


def test_missing_required_body_field_is_a_violation() -> None:
    body = _transfer()
    del body["destinationAmount"]
    problem = contract.request_violation("POST", "/transfers", [], JSON_AUTH, _json(body))
    assert problem is not None and "destinationAmount" in problem


def test_wrong_enum_is_a_violation() -> None:
    body = _json(_transfer(source={"id": "1", "type": "bogus"}))
    problem = contract.request_violation("POST", "/transfers", [], JSON_AUTH, body)
    assert problem is not None and "bogus" in problem
    query = [("orderByTimestamp", "SIDEWAYS")]
    problem = contract.request_violation("GET", "/managed_cards/1/statement", query, AUTH, b"")
    assert problem is not None and "SIDEWAYS" in problem
    query = [("transactionType", "TRANSFER"), ("transactionType", "NOPE")]
    problem = contract.request_violation("GET", "/managed_cards/1/statement", query, AUTH, b"")
    assert problem is not None and "NOPE" in problem


def test_transfer_description_pattern_is_enforced() -> None:
    body = _json(_transfer(description="tab\tis not allowed? no: \\ backslash ~"))
    problem = contract.request_violation("POST", "/transfers", [], JSON_AUTH, body)
    assert problem is not None and "description" in problem


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
    assert problem is not None and "takes none" in problem


def test_charge_fee_destination_is_not_required_in_requests() -> None:
    # ChargeFee (the response) lists `destination` as required without defining it; the
    # request schema (Fee) only needs feeType and source.
    body = _json({"feeType": "MONTHLY", "source": {"id": "1", "type": "managed_accounts"}})
    assert contract.request_violation("POST", "/fees/charge", [], JSON_AUTH, body) is None


def test_unknown_paths_and_methods() -> None:
    problem = contract.request_violation("GET", "/nowhere", [], AUTH, b"")
    assert problem is not None and "no path" in problem
    problem = contract.request_violation("DELETE", "/transfers", [], AUTH, b"")
    assert problem is not None and "not allowed" in problem


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
# contract.response_violation
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
    assert problem is not None and "currency" in problem


def test_response_headers_are_checked() -> None:
    body = _json(_managed_account())
    problem = contract.response_violation(
        "GET", "/managed_accounts/1001", 200, {}, body, "application/json"
    )
    assert problem is not None and "request-ref" in problem
    limited = {**REF, "x-ratelimit-limit": "20, 10;w=60", "x-ratelimit-reset": "-5"}
    problem = contract.response_violation("POST", "/users", 429, limited, b"", "")
    assert problem is not None and "x-ratelimit-reset" in problem
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
    assert problem is not None and "not documented" in problem


def test_statement_exports_are_not_body_validated() -> None:
    path = "/managed_accounts/1/statement"
    for media in ("text/csv", "application/pdf"):
        assert contract.response_violation("GET", path, 200, REF, b"\x00raw", media) is None
    problem = contract.response_violation("GET", path, 200, REF, b"<p>", "text/html")
    assert problem is not None and "text/html" in problem
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
    assert missing is not None and "destination" in missing


# --------------------------------------------------------------------------------------------
# Cross-check against openapi-core and speed
# --------------------------------------------------------------------------------------------


def test_agrees_with_openapi_core(document: dict[str, Any]) -> None:
    # openapi-core's request validator on the cases both implementations support (it does not
    # deserialise form-exploded object query parameters, nor reject unknown query keys).
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest

    api = OpenAPI.from_dict(document)
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
