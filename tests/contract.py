"""Contract checks against the committed OpenAPI document (support module for tests).

Everything here reads only ``spec/backoffice.openapi.yaml`` (the structural contract generated
by ``spec/refresh_spec.py``).  Schemas are checked with ``OAS31Validator`` from
``openapi-schema-validator`` -- the OpenAPI 3.1 schema validator maintained by the openapi-core
project -- with ``$ref`` resolution through a ``referencing`` registry holding the whole
document.  Routing, parameter deserialisation (OpenAPI ``style``/``explode`` rules) and security
checks are done here, compiled once and cached, so a check costs well under a millisecond and
can run on every request the simulator serves.

Why not ``openapi_core.OpenAPI.validate_request``?  It costs several milliseconds per request
(it re-walks the document and rebuilds schema validators on every call) and it does not support
query parameters of object type with ``style: form, explode: true``: for ``GET /transfers`` the
``instrumentId`` filter is serialised as top-level ``id=...&type=...`` keys, which openapi-core
0.23 never looks at, so it neither validates them nor rejects a half-given filter.  The tests in
``tests/test_spec.py`` cross-check this module against openapi-core on the cases both support.

Public API::

    request_violation(method, path, query, headers, body) -> str | None
    response_violation(method, path, status, headers, body, content_type) -> str | None
    make_request_validator() -> Callable[[request-like], str | None]
    operation_ids() -> frozenset[str]
    operation_for(method, path) -> str | None
    spec_document() -> Mapping[str, Any]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

import yaml
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[1] / "spec" / "backoffice.openapi.yaml"
SPEC_URI = "urn:weavr-async:spec:backoffice.openapi.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Header parameters with these names are ignored by OpenAPI (they are governed by other parts of
# the document: content negotiation, request body media types and security schemes).
_IGNORED_HEADER_PARAMS = frozenset({"accept", "content-type", "authorization"})
# Media types whose bodies are not schema-validated (binary / tabular exports).
_UNVALIDATED_MEDIA_TYPES = frozenset({"text/csv", "application/pdf"})

_MAX_SCHEMA_ERRORS = 5
_MAX_MESSAGE = 160


# --------------------------------------------------------------------------------------------
# Compiled contract
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    name: str
    location: str  # "path" | "query" | "header" | "cookie"
    required: bool
    style: str
    explode: bool
    kind: str  # "primitive" | "array" | "object"
    schema_ptr: str
    schema: Mapping[str, Any]  # dereferenced schema, used for casting
    # For form-exploded object parameters: the property names that appear as query keys.
    object_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Header:
    name: str
    required: bool
    schema_ptr: str | None
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class _Response:
    headers: tuple[_Header, ...]
    content: Mapping[str, str | None]  # media type -> schema pointer (None: no schema)


@dataclass(frozen=True)
class _Body:
    required: bool
    content: Mapping[str, str | None]


@dataclass(frozen=True)
class _Operation:
    operation_id: str
    method: str
    template: str
    params: tuple[_Param, ...]
    security: tuple[tuple[str, ...], ...]  # alternatives, each a set of scheme names
    body: _Body | None
    responses: Mapping[str, _Response]
    query_keys: frozenset[str] = field(default=frozenset())


@dataclass(frozen=True)
class _Route:
    template: str
    regex: re.Pattern[str]
    variables: tuple[str, ...]
    operations: Mapping[str, _Operation]  # lower-case method -> operation


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str | int) -> str:
    return "/" + "/".join(_escape(str(t)) for t in tokens)


class _Contract:
    """The committed document, compiled for fast request/response checks."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, Validator] = {}
        self._schemes: Mapping[str, Any] = document.get("components", {}).get("securitySchemes", {})
        global_security = self._security(document.get("security", []))
        routes: list[_Route] = []
        for template, item in document.get("paths", {}).items():
            item = self._deref(item)
            operations: dict[str, _Operation] = {}
            for method in HTTP_METHODS:
                if method in item:
                    operations[method] = self._compile_operation(
                        template, method, item, global_security
                    )
            routes.append(self._compile_route(template, operations))
        # Concrete paths are matched before templated ones (fewest variables first).
        routes.sort(key=lambda r: len(r.variables))
        self.routes: tuple[_Route, ...] = tuple(routes)
        self.operation_ids = frozenset(
            op.operation_id for route in routes for op in route.operations.values()
        )

    # -- document helpers ---------------------------------------------------------------------

    def _resolve_ref(self, ref: str) -> tuple[str, Any]:
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, got {ref!r}")
        node: Any = self.document
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")]
        for token in tokens:
            node = node[int(token)] if isinstance(node, list) else node[token]
        return ref[1:], node

    def _deref(self, node: Any) -> Any:
        while isinstance(node, Mapping) and "$ref" in node:
            node = self._resolve_ref(node["$ref"])[1]
        return node

    def _deref_with_ptr(self, node: Any, ptr: str) -> tuple[str, Any]:
        while isinstance(node, Mapping) and "$ref" in node:
            ptr, node = self._resolve_ref(node["$ref"])
        return ptr, node

    def _flat_schema(self, schema: Any) -> Mapping[str, Any]:
        """Dereference a schema and merge ``allOf`` members (for casting decisions only)."""
        schema = self._deref(schema)
        if not isinstance(schema, Mapping):
            return {}
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        props: dict[str, Any] = dict(merged.get("properties", {}))
        for member in schema["allOf"]:
            flat = self._flat_schema(member)
            merged.setdefault("type", flat.get("type"))
            props.update(flat.get("properties", {}))
        merged["properties"] = props
        return merged

    def _inlined(self, node: Any, trail: tuple[str, ...] = ()) -> Any:
        """``node`` with every local ``$ref`` replaced by what it points to (as an ``allOf``
        member when it has sibling keywords); a reference that would recurse stays a
        ``$ref`` for the registry. Inlined schemas validate about twice as fast."""
        if isinstance(node, list):
            return [self._inlined(item, trail) for item in node]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in trail:
                return {**node, "$ref": f"{SPEC_URI}{ref}"}
            target = self._inlined(self._resolve_ref(ref)[1], (*trail, ref))
            siblings = {k: self._inlined(v, trail) for k, v in node.items() if k != "$ref"}
            return {**siblings, "allOf": [target]} if siblings else target
        return {k: self._inlined(v, trail) for k, v in node.items()}

    def validator(self, ptr: str) -> Validator:
        """A compiled validator for the schema at JSON pointer ``ptr`` in the document."""
        found = self._validators.get(ptr)
        if found is None:
            schema = self._inlined({"$ref": f"#{ptr}"})
            found = OAS31Validator(
                schema, registry=self._registry, format_checker=oas31_format_checker
            )
            self._validators[ptr] = found
        return found

    def _security(self, requirements: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(req) for req in requirements)

    # -- compilation --------------------------------------------------------------------------

    def _compile_route(self, template: str, operations: Mapping[str, _Operation]) -> _Route:
        variables: list[str] = []
        pattern = ""
        for part in re.split(r"(\{[^}/]+\})", template):
            if part.startswith("{") and part.endswith("}"):
                variables.append(part[1:-1])
                pattern += f"(?P<v{len(variables) - 1}>[^/]+)"
            else:
                pattern += re.escape(part)
        return _Route(template, re.compile(pattern), tuple(variables), operations)

    def _compile_operation(
        self,
        template: str,
        method: str,
        item: Mapping[str, Any],
        global_security: tuple[tuple[str, ...], ...],
    ) -> _Operation:
        op = item[method]
        op_ptr = _pointer("paths", template, method)
        params: dict[tuple[str, str], _Param] = {}
        # Path-item parameters first; operation parameters override them (same name + in).
        for owner_ptr, owner in ((_pointer("paths", template), item), (op_ptr, op)):
            for index, raw in enumerate(owner.get("parameters", [])):
                ptr, param = self._deref_with_ptr(raw, f"{owner_ptr}/parameters/{index}")
                compiled = self._compile_param(param, ptr)
                params[(compiled.name.lower(), compiled.location)] = compiled
        security = self._security(op["security"]) if "security" in op else global_security
        body = None
        if "requestBody" in op:
            ptr, raw_body = self._deref_with_ptr(op["requestBody"], f"{op_ptr}/requestBody")
            body = _Body(
                required=bool(raw_body.get("required", False)),
                content=self._compile_content(raw_body.get("content", {}), f"{ptr}/content"),
            )
        responses: dict[str, _Response] = {}
        for status, raw in op.get("responses", {}).items():
            ptr, response = self._deref_with_ptr(raw, f"{op_ptr}/responses/{_escape(status)}")
            headers = []
            for name, raw_header in response.get("headers", {}).items():
                if name.lower() == "content-type":
                    continue  # ignored by OpenAPI
                hptr, header = self._deref_with_ptr(raw_header, f"{ptr}/headers/{_escape(name)}")
                has_schema = "schema" in header
                headers.append(
                    _Header(
                        name=name.lower(),
                        required=bool(header.get("required", False)),
                        schema_ptr=f"{hptr}/schema" if has_schema else None,
                        schema=self._flat_schema(header.get("schema", {})),
                    )
                )
            responses[str(status)] = _Response(
                headers=tuple(headers),
                content=self._compile_content(response.get("content", {}), f"{ptr}/content"),
            )
        ordered = tuple(params.values())
        query_keys: set[str] = set()
        for p in ordered:
            if p.location == "query":
                query_keys.update(p.object_keys or (p.name,))
        return _Operation(
            operation_id=str(op.get("operationId", f"{method.upper()} {template}")),
            method=method,
            template=template,
            params=ordered,
            security=security,
            body=body,
            responses=responses,
            query_keys=frozenset(query_keys),
        )

    def _compile_param(self, param: Mapping[str, Any], ptr: str) -> _Param:
        location = str(param["in"])
        default_style = {"query": "form", "cookie": "form"}.get(location, "simple")
        style = str(param.get("style", default_style))
        explode = bool(param.get("explode", style == "form"))
        schema = self._flat_schema(param.get("schema", {}))
        types = _types_of(schema)
        kind = "array" if "array" in types else "object" if "object" in types else "primitive"
        object_keys: tuple[str, ...] = ()
        if kind == "object" and style == "form" and explode:
            # style=form + explode=true: each property is its own top-level query key.
            object_keys = tuple(schema.get("properties", {}))
        return _Param(
            name=str(param["name"]),
            location=location,
            required=bool(param.get("required", False)),
            style=style,
            explode=explode,
            kind=kind,
            schema_ptr=f"{ptr}/schema",
            schema=schema,
            object_keys=object_keys,
        )

    def _compile_content(self, content: Mapping[str, Any], ptr: str) -> dict[str, str | None]:
        return {
            media.lower(): (f"{ptr}/{_escape(media)}/schema" if "schema" in spec else None)
            for media, spec in content.items()
        }

    # -- lookups ------------------------------------------------------------------------------

    def match(self, path: str) -> list[tuple[_Route, dict[str, str]]]:
        found = []
        for route in self.routes:
            m = route.regex.fullmatch(path)
            if m is not None:
                values = {name: m.group(f"v{i}") for i, name in enumerate(route.variables)}
                found.append((route, values))
        return found

    def find(self, method: str, path: str) -> tuple[_Operation | None, dict[str, str], str | None]:
        """Return (operation, path variables, problem)."""
        method = method.lower()
        matches = self.match(path)
        if not matches:
            return None, {}, "no path in the contract matches"
        for route, values in matches:
            if method in route.operations:
                return route.operations[method], values, None
        allowed = sorted({m.upper() for route, _ in matches for m in route.operations})
        return None, {}, f"method not allowed (the contract has {', '.join(allowed)})"

    def schema_errors(self, ptr: str, instance: Any, where: str) -> list[str]:
        errors = sorted(
            self.validator(ptr).iter_errors(instance), key=lambda e: list(e.absolute_path)
        )
        out = [_describe(error, where) for error in errors[:_MAX_SCHEMA_ERRORS]]
        if len(errors) > _MAX_SCHEMA_ERRORS:
            out.append(f"{where}: ... and {len(errors) - _MAX_SCHEMA_ERRORS} more")
        return out


def _types_of(schema: Mapping[str, Any]) -> tuple[str, ...]:
    raw = schema.get("type")
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list):
        return tuple(str(t) for t in raw)
    return ()


def _describe(error: ValidationError, where: str) -> str:
    location = f"{where} {error.json_path}" if error.absolute_path else where
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{location}: {message}"


class _CastError(ValueError):
    pass


_INT_RE = re.compile(r"-?[0-9]+")


def _cast(raw: str, schema: Mapping[str, Any]) -> Any:
    """Convert a serialised parameter value to the JSON type its schema declares."""
    types = _types_of(schema)
    if not types or "string" in types:
        return raw
    for kind in types:
        if kind == "integer" and _INT_RE.fullmatch(raw):
            return int(raw)
        if kind == "number":
            try:
                value = float(raw)
            except ValueError:
                continue
            if value == value and value not in (float("inf"), float("-inf")):
                return int(raw) if _INT_RE.fullmatch(raw) else value
        if kind == "boolean" and raw in ("true", "false"):
            return raw == "true"
        if kind == "null" and raw == "":
            return None
    raise _CastError(f"{raw!r} is not a valid {' or '.join(types)}")


@cache
def _contract() -> _Contract:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(fh, Loader=loader)  # a safe loader (C-accelerated if available)
    return _Contract(document)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def _check_param(
    contract: _Contract,
    param: _Param,
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
                value[key] = _cast(values[0], contract._flat_schema(props.get(key, {})))
        elif param.kind == "array":
            assert not isinstance(raw_values, Mapping)
            items: list[str] = list(raw_values)
            if not (param.explode and param.style == "form"):
                if len(items) != 1:
                    return [f"{where} given {len(items)} times"]
                items = items[0].split(",") if items[0] != "" else []
            item_schema = contract._flat_schema(param.schema.get("items", {}))
            value = [_cast(item, item_schema) for item in items]
        else:
            assert not isinstance(raw_values, Mapping)
            if len(raw_values) != 1:
                return [f"{where} given {len(raw_values)} times"]
            value = _cast(raw_values[0], param.schema)
    except _CastError as exc:
        return [f"{where}: {exc}"]
    return contract.schema_errors(param.schema_ptr, value, where)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _match_media(declared: Mapping[str, str | None], media: str) -> str | None:
    if media in declared:
        return media
    major = media.split("/", 1)[0]
    for candidate in (f"{major}/*", "*/*"):
        if candidate in declared:
            return candidate
    return None


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _check_body(
    contract: _Contract,
    declared: Mapping[str, str | None],
    body: bytes,
    content_type: str | None,
    where: str,
) -> list[str]:
    media = _media_type(content_type)
    matched = _match_media(declared, media)
    if matched is None:
        expected = ", ".join(sorted(declared)) or "none"
        return [f"{where}: content type {media or '(missing)'!r} not declared (have {expected})"]
    ptr = declared[matched]
    if ptr is None or matched in _UNVALIDATED_MEDIA_TYPES:
        return []
    if not _is_json(media):
        return []
    try:
        instance = json.loads(body)
    except ValueError as exc:
        return [f"{where}: not valid JSON ({exc})"]
    return contract.schema_errors(ptr, instance, where)


def _security_problems(
    contract: _Contract, op: _Operation, headers: Mapping[str, str], query: Mapping[str, Any]
) -> list[str]:
    if not op.security:
        return []
    alternatives: list[list[str]] = []
    for requirement in op.security:
        missing = []
        for name in requirement:
            scheme = contract._schemes.get(name, {})
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


def request_violation(
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
    contract = _contract()
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
                _check_body(
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
    _contract()  # load eagerly so the first checked request pays no start-up cost

    def check(request: RequestLike) -> str | None:
        return request_violation(
            request.method,
            request.path,
            _pairs(request.query),
            request.headers,
            request.body or b"",
        )

    return check


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


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
    contract = _contract()
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
            instance = _cast(value, header.schema)
        except _CastError as exc:
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
        problems.extend(
            _check_body(contract, response.content, body, content_type, "response body")
        )

    if not problems:
        return None
    return f"{op.operation_id} ({label}): " + "; ".join(problems)


# --------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------


def operation_ids() -> frozenset[str]:
    """All operationIds in the contract."""
    return _contract().operation_ids


def operation_for(method: str, path: str) -> str | None:
    """The operationId whose path template and method match, else None."""
    op, _, _ = _contract().find(method, path.partition("?")[0])
    return None if op is None else op.operation_id


def spec_document() -> Mapping[str, Any]:
    """The parsed contract document (shared; do not mutate)."""
    return _contract().document
