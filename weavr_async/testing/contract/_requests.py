"""Requests against the contract: path and method, credentials, parameters as serialised
(OpenAPI ``style``/``explode``), unknown query keys, and the body.

Why not ``openapi_core.OpenAPI.validate_request``?  It costs several milliseconds per request
(it re-walks the document and rebuilds schema validators on every call) and it does not support
query parameters of object type with ``style: form, explode: true``: for ``GET /transfers`` the
``instrumentId`` filter is serialised as top-level ``id=...&type=...`` keys, which openapi-core
0.23 never looks at, so it neither validates them nor rejects a half-given filter. The tests
cross-check this module against openapi-core on the cases both support.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from ._bodies import check_body
from ._compiled import (
    CastError,
    Contract,
    DeclaredOperation,
    DeclaredParameter,
    cast_value,
    load_contract,
)

__all__ = ["RequestLike", "make_request_validator", "request_violation"]

# Header parameters with these names are ignored by OpenAPI (they are governed by other parts of
# the document: content negotiation, request body media types and security schemes).
_IGNORED_HEADER_PARAMS = frozenset({"accept", "content-type", "authorization"})


def _check_param(
    contract: Contract,
    param: DeclaredParameter,
    raw_values: Sequence[str] | Mapping[str, Sequence[str]] | None,
) -> list[str]:
    where = f"{param.location} parameter {param.name!r}"
    if raw_values is None or len(raw_values) == 0:
        return [f"missing required {where}"] if param.required else []
    value: Any
    try:
        if param.kind == "object":
            assert isinstance(raw_values, Mapping)
            props = param.schema.get("properties", {})
            value = {}
            for key, values in raw_values.items():
                if len(values) != 1:
                    return [f"{where}: key {key!r} given {len(values)} times"]
                value[key] = cast_value(values[0], contract.flat_schema(props.get(key, {})))
        elif param.kind == "array":
            assert not isinstance(raw_values, Mapping)
            items: list[str] = list(raw_values)
            if not (param.explode and param.style == "form"):
                if len(items) != 1:
                    return [f"{where} given {len(items)} times"]
                items = items[0].split(",") if items[0] != "" else []
            item_schema = contract.flat_schema(param.schema.get("items", {}))
            value = [cast_value(item, item_schema) for item in items]
        else:
            assert not isinstance(raw_values, Mapping)
            if len(raw_values) != 1:
                return [f"{where} given {len(raw_values)} times"]
            value = cast_value(raw_values[0], param.schema)
    except CastError as exc:
        return [f"{where}: {exc}"]
    return contract.schema_errors(param.schema_ptr, value, where)


def _security_problems(
    contract: Contract, op: DeclaredOperation, headers: Mapping[str, str], query: Mapping[str, Any]
) -> list[str]:
    if not op.security:
        return []
    alternatives: list[list[str]] = []
    for requirement in op.security:
        missing = []
        for name in requirement:
            scheme = contract.security_schemes.get(name, {})
            kind = scheme.get("type")
            if kind == "apiKey":
                key = str(scheme.get("name", ""))
                where = scheme.get("in")
                present = (
                    bool(headers.get(key.lower()))
                    if where == "header"
                    else bool(query.get(key))
                    if where == "query"
                    else True  # cookie credentials are not modelled here
                )
                if not present:
                    missing.append(f"{key} {where}")
            elif kind == "http":
                wanted = str(scheme.get("scheme", "")).lower()
                auth = headers.get("authorization", "")
                auth_type, _, credentials = auth.partition(" ")
                if auth_type.lower() != wanted or not credentials.strip():
                    missing.append(f"Authorization: {wanted.capitalize()} <token> header")
        if not missing:
            return []
        alternatives.append(missing)
    return ["missing credentials: " + " or ".join(" and ".join(a) for a in alternatives)]


def request_violation(  # noqa: C901 (the contract's checks in order: path, auth, params, body)
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> str | None:
    """Check a request against the contract; None if it conforms, else what is wrong.

    ``path`` is relative to the API base (``/managed_accounts/1``, no ``/multi/backoffice``);
    array query parameters are given as repeated keys, ``headers`` are case-insensitive.
    """
    contract = load_contract()
    query = list(query)
    if "?" in path:
        path, _, raw_query = path.partition("?")
        query = parse_qsl(raw_query, keep_blank_values=True) + query
    label = f"{method.upper()} {path}"
    op, variables, problem = contract.find(method, path)
    if op is None:
        return f"{label}: {problem}"

    lower_headers = {k.lower(): v for k, v in headers.items()}
    multi: dict[str, list[str]] = {}
    for key, value in query:
        multi.setdefault(key, []).append(value)

    problems = _security_problems(contract, op, lower_headers, multi)
    for key in multi:
        if key not in op.query_keys:
            problems.append(f"unknown query parameter {key!r}")
    for param in op.params:
        raw: Sequence[str] | Mapping[str, Sequence[str]] | None
        if param.location == "path":
            raw = [unquote(variables[param.name])] if param.name in variables else None
        elif param.location == "query":
            if param.object_keys:
                # Object parameter with style=form, explode=true (GET /transfers
                # `instrumentId`): serialised as its properties' own keys (id=..&type=..).
                # Absent when none of those keys is given; otherwise the collected object is
                # validated as a whole, so a half-given filter is reported.
                given = {k: multi[k] for k in param.object_keys if k in multi}
                raw = given or None
            else:
                raw = multi.get(param.name)
                if raw is not None and param.kind != "array" and "" in raw:
                    problems.append(f"query parameter {param.name!r}: empty value")
                    continue
        elif param.location == "header":
            if param.name.lower() in _IGNORED_HEADER_PARAMS:
                continue
            header = lower_headers.get(param.name.lower())
            raw = None if header is None else [header]
        else:
            continue  # cookies are not used by this API
        problems.extend(_check_param(contract, param, raw))

    if op.body is not None:
        if body:
            problems.extend(
                check_body(
                    contract,
                    op.body.content,
                    body,
                    lower_headers.get("content-type"),
                    "request body",
                )
            )
        elif op.body.required:
            problems.append("missing required request body")
    elif body:
        problems.append("request body sent, but the operation takes none")

    if not problems:
        return None
    return f"{op.operation_id} ({label}): " + "; ".join(problems)


class RequestLike(Protocol):
    """What ``make_request_validator`` reads from a recorded request."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> Any: ...  # sequence of (key, value) pairs, or a multidict
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> bytes | None: ...


def _pairs(query: Any) -> list[tuple[str, str]]:
    if query is None:
        return []
    if isinstance(query, Mapping):
        # Multidicts (aiohttp/multidict, werkzeug) yield every pair from items().
        return [(str(k), str(v)) for k, v in query.items()]
    return [(str(k), str(v)) for k, v in query]


def make_request_validator() -> Callable[[RequestLike], str | None]:
    """A callable checking an object with ``.method .path .query .headers .body``."""
    load_contract()  # load eagerly so the first checked request pays no start-up cost

    def check(request: RequestLike) -> str | None:
        return request_violation(
            request.method,
            request.path,
            _pairs(request.query),
            request.headers,
            request.body or b"",
        )

    return check
