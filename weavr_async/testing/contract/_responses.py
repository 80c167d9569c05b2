"""Answers against the contract: a documented status, the declared headers, and the body."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from ._bodies import check_body
from ._compiled import CastError, cast_value, load_contract

__all__ = [
    "UNDECLARED_RESPONSES",
    "AnsweredRequest",
    "make_response_validator",
    "response_violation",
]

UNDECLARED_RESPONSES: frozenset[tuple[str, int]] = frozenset(
    (operation, status)
    for operation in ("bulksTransferCreate", "bulksManagedCardSpendRulesUpdate")
    for status in (400, 401)
)
"""(operationId, status) answers the contract leaves undeclared though the API gives them: the
two bulk submissions declare only their 201, so the 400 of a malformed bulk and the 401 of
missing or dead credentials have nothing to be checked against. Strict mode lets exactly these
through and checks everything else."""


class AnsweredRequest(Protocol):
    """What `make_response_validator` reads of the request an answer is for."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def operation_id(self) -> str | None: ...


def response_violation(
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    content_type: str,
) -> str | None:
    """Check a response against the contract for the matched operation and status code.

    Uses the exact status, then its ``NXX`` range, then ``default``.  Declared headers are
    checked (required ones must be present), and JSON bodies against the response schema;
    ``text/csv`` and ``application/pdf`` bodies only need a declared content type.
    """
    contract = load_contract()
    path = path.partition("?")[0]
    label = f"{method.upper()} {path} -> {status}"
    op, _, problem = contract.find(method, path)
    if op is None:
        return f"{label}: {problem}"
    response = (
        op.responses.get(str(status))
        or op.responses.get(f"{status // 100}XX")
        or op.responses.get("default")
    )
    if response is None:
        documented = ", ".join(op.responses)
        return f"{op.operation_id} ({label}): status not documented (have {documented})"

    problems: list[str] = []
    lower_headers = {k.lower(): v for k, v in headers.items()}
    for header in response.headers:
        where = f"response header {header.name!r}"
        value = lower_headers.get(header.name)
        if value is None:
            if header.required:
                problems.append(f"missing required {where}")
            continue
        if header.schema_ptr is None:
            continue
        try:
            instance = cast_value(value, header.schema)
        except CastError as exc:
            problems.append(f"{where}: {exc}")
            continue
        problems.extend(contract.schema_errors(header.schema_ptr, instance, where))

    if not response.content:
        if body:
            problems.append("response body sent, but the contract declares none")
    elif not body:
        declared = ", ".join(response.content)
        problems.append(f"missing response body (expected {declared})")
    else:
        problems.extend(check_body(contract, response.content, body, content_type, "response body"))

    if not problems:
        return None
    return f"{op.operation_id} ({label}): " + "; ".join(problems)


def make_response_validator() -> Callable[
    [AnsweredRequest, int, Mapping[str, str], bytes, str], str | None
]:
    """A ``FakeBackOffice`` response validator: the contract's verdict on one of its answers,
    `UNDECLARED_RESPONSES` excepted."""
    load_contract()  # load eagerly so the first checked answer pays no start-up cost

    def check(
        request: AnsweredRequest,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        content_type: str,
    ) -> str | None:
        if (request.operation_id, status) in UNDECLARED_RESPONSES:
            return None
        return response_violation(request.method, request.path, status, headers, body, content_type)

    return check
