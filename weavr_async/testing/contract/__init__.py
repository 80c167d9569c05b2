"""The contract (the committed OpenAPI document of the BackOffice API) as checks of requests
and answers: what ``FakeBackOffice(strict=True)`` enforces, usable on its own too::

    from weavr_async.testing.contract import request_violation, response_violation

    request_violation("GET", "/managed_accounts/1", [], {"api-key": "k"}, b"")
    # 'managedAccountGet (GET /managed_accounts/1): missing credentials: ...'

Paths are relative to the API's base (``/managed_accounts/1``, no ``/multi/backoffice``);
array query parameters are repeated keys; header names are case-insensitive. Each check answers
None when the request or answer conforms, else one line saying what is wrong.

Needs PyYAML, jsonschema and openapi-schema-validator: ``pip install 'weavr-async[strict]'``.
"""

from __future__ import annotations

try:
    import openapi_schema_validator  # noqa: F401  (it brings jsonschema)
    import yaml  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test environment has them
    raise ImportError(
        "weavr_async.testing.contract (and FakeBackOffice(strict=True)) needs PyYAML, "
        "jsonschema and openapi-schema-validator: pip install 'weavr-async[strict]' "
        f"({exc.name} is missing)"
    ) from exc

from collections.abc import Mapping
from typing import Any

from ._compiled import HTTP_METHODS, SPEC, load_contract
from ._requests import RequestLike, make_request_validator, request_violation
from ._responses import (
    UNDECLARED_RESPONSES,
    AnsweredRequest,
    make_response_validator,
    response_violation,
)

__all__ = [
    "HTTP_METHODS",
    "SPEC",
    "UNDECLARED_RESPONSES",
    "AnsweredRequest",
    "RequestLike",
    "make_request_validator",
    "make_response_validator",
    "operation_for",
    "operation_ids",
    "request_violation",
    "response_violation",
    "spec_document",
]


def operation_ids() -> frozenset[str]:
    """All operationIds in the contract."""
    return load_contract().operation_ids


def operation_for(method: str, path: str) -> str | None:
    """The operationId whose path template and method match, else None."""
    op, _, _ = load_contract().find(method, path.partition("?")[0])
    return None if op is None else op.operation_id


def spec_document() -> Mapping[str, Any]:
    """The parsed contract document (shared; do not mutate)."""
    return load_contract().document
