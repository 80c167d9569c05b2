"""The committed contract (weavr_async/testing/contract/backoffice.openapi.yaml, shipped in the
package) and spec/refresh_spec.py, the script that writes it.

Only the committed document is read here; the upstream description is never touched. The
checks built on it are tested in tests/simulator/test_contract.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate as validate_openapi

from weavr_async.testing.contract import SPEC

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_FILE = REPO_ROOT / "weavr_async" / "testing" / "contract" / "backoffice.openapi.yaml"
REFRESH_SCRIPT = REPO_ROOT / "spec" / "refresh_spec.py"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

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
    assert spec is not None
    assert spec.loader is not None
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
        if method in HTTP_METHODS
    ]
    assert len(found) == 32
    assert len(set(found)) == len(found), "operationIds must be unique"
    assert set(found) == EXPECTED_OPERATION_IDS


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
        assert "\n" not in label
        assert len(label) <= 60


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


def test_the_package_ships_the_document_the_refresh_writes() -> None:
    refresh = _load_refresh_module()
    assert refresh.OUTPUT == SPEC_FILE
    assert Path(str(SPEC)) == SPEC_FILE
    assert SPEC.read_text(encoding="utf-8") == SPEC_FILE.read_text(encoding="utf-8")


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
