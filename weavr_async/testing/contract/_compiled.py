"""The contract document, compiled once for fast checks: paths as regexes, parameters with
their serialisation (OpenAPI ``style``/``explode``), declared responses and bodies, and one
schema validator per JSON pointer, built on first use.

Schemas are checked with ``OAS31Validator`` from ``openapi-schema-validator`` (the OpenAPI 3.1
schema validator maintained by the openapi-core project), ``$ref`` resolved through a
``referencing`` registry holding the whole document. A check costs well under a millisecond,
so it can run on every request the simulator serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any, Protocol

import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "HTTP_METHODS",
    "SPEC",
    "CastError",
    "Contract",
    "DeclaredBody",
    "DeclaredHeader",
    "DeclaredOperation",
    "DeclaredParameter",
    "DeclaredPath",
    "DeclaredResponse",
    "cast_value",
    "load_contract",
]

SPEC = files(__package__).joinpath("backoffice.openapi.yaml")
"""The committed contract (written by ``spec/refresh_spec.py``), shipped in the package."""
SPEC_URI = "urn:weavr-async:spec:backoffice.openapi.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_MAX_SCHEMA_ERRORS = 5
_MAX_MESSAGE = 160


class _SchemaError(Protocol):
    """What is read from a jsonschema ValidationError."""

    @property
    def message(self) -> str: ...
    @property
    def json_path(self) -> str: ...
    @property
    def absolute_path(self) -> Iterable[str | int]: ...


class _SchemaValidator(Protocol):
    """What is used of a jsonschema validator."""

    def iter_errors(self, instance: Any) -> Iterator[_SchemaError]: ...


@dataclass(frozen=True)
class DeclaredParameter:
    """A parameter as its operation declares it."""

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
class DeclaredHeader:
    """A response header as declared."""

    name: str
    required: bool
    schema_ptr: str | None
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class DeclaredResponse:
    """What one status of an operation declares: headers and content by media type."""

    headers: tuple[DeclaredHeader, ...]
    content: Mapping[str, str | None]  # media type -> schema pointer (None: no schema)


@dataclass(frozen=True)
class DeclaredBody:
    """A request body as declared: required or not, content by media type."""

    required: bool
    content: Mapping[str, str | None]


@dataclass(frozen=True)
class DeclaredOperation:
    """One operation: its parameters, security alternatives, body and responses."""

    operation_id: str
    method: str
    template: str
    params: tuple[DeclaredParameter, ...]
    security: tuple[tuple[str, ...], ...]  # alternatives, each a set of scheme names
    body: DeclaredBody | None
    responses: Mapping[str, DeclaredResponse]
    query_keys: frozenset[str] = field(default=frozenset())


@dataclass(frozen=True)
class DeclaredPath:
    """A path template, compiled to a regex, and its operations by method."""

    template: str
    regex: re.Pattern[str]
    variables: tuple[str, ...]
    operations: Mapping[str, DeclaredOperation]  # lower-case method -> operation


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str | int) -> str:
    return "/" + "/".join(_escape(str(t)) for t in tokens)


class Contract:
    """The committed document, compiled for fast request/response checks."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, _SchemaValidator] = {}
        self.security_schemes: Mapping[str, Any] = document.get("components", {}).get(
            "securitySchemes", {}
        )
        global_security = self._security(document.get("security", []))
        routes: list[DeclaredPath] = []
        for template, item in document.get("paths", {}).items():
            item = self._deref(item)
            operations: dict[str, DeclaredOperation] = {}
            for method in HTTP_METHODS:
                if method in item:
                    operations[method] = self._compile_operation(
                        template, method, item, global_security
                    )
            routes.append(self._compile_route(template, operations))
        # Concrete paths are matched before templated ones (fewest variables first).
        routes.sort(key=lambda r: len(r.variables))
        self.routes: tuple[DeclaredPath, ...] = tuple(routes)
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

    def flat_schema(self, schema: Any) -> Mapping[str, Any]:
        """Dereference a schema and merge ``allOf`` members (for casting decisions only)."""
        schema = self._deref(schema)
        if not isinstance(schema, Mapping):
            return {}
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        props: dict[str, Any] = dict(merged.get("properties", {}))
        for member in schema["allOf"]:
            flat = self.flat_schema(member)
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

    def validator(self, ptr: str) -> _SchemaValidator:
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

    def _compile_route(
        self, template: str, operations: Mapping[str, DeclaredOperation]
    ) -> DeclaredPath:
        variables: list[str] = []
        pattern = ""
        for part in re.split(r"(\{[^}/]+\})", template):
            if part.startswith("{") and part.endswith("}"):
                variables.append(part[1:-1])
                pattern += f"(?P<v{len(variables) - 1}>[^/]+)"
            else:
                pattern += re.escape(part)
        return DeclaredPath(template, re.compile(pattern), tuple(variables), operations)

    def _compile_operation(
        self,
        template: str,
        method: str,
        item: Mapping[str, Any],
        global_security: tuple[tuple[str, ...], ...],
    ) -> DeclaredOperation:
        op = item[method]
        op_ptr = _pointer("paths", template, method)
        params: dict[tuple[str, str], DeclaredParameter] = {}
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
            body = DeclaredBody(
                required=bool(raw_body.get("required", False)),
                content=self._compile_content(raw_body.get("content", {}), f"{ptr}/content"),
            )
        responses: dict[str, DeclaredResponse] = {}
        for status, raw in op.get("responses", {}).items():
            ptr, response = self._deref_with_ptr(raw, f"{op_ptr}/responses/{_escape(status)}")
            headers = []
            for name, raw_header in response.get("headers", {}).items():
                if name.lower() == "content-type":
                    continue  # ignored by OpenAPI
                hptr, header = self._deref_with_ptr(raw_header, f"{ptr}/headers/{_escape(name)}")
                has_schema = "schema" in header
                headers.append(
                    DeclaredHeader(
                        name=name.lower(),
                        required=bool(header.get("required", False)),
                        schema_ptr=f"{hptr}/schema" if has_schema else None,
                        schema=self.flat_schema(header.get("schema", {})),
                    )
                )
            responses[str(status)] = DeclaredResponse(
                headers=tuple(headers),
                content=self._compile_content(response.get("content", {}), f"{ptr}/content"),
            )
        ordered = tuple(params.values())
        query_keys: set[str] = set()
        for p in ordered:
            if p.location == "query":
                query_keys.update(p.object_keys or (p.name,))
        return DeclaredOperation(
            operation_id=str(op.get("operationId", f"{method.upper()} {template}")),
            method=method,
            template=template,
            params=ordered,
            security=security,
            body=body,
            responses=responses,
            query_keys=frozenset(query_keys),
        )

    def _compile_param(self, param: Mapping[str, Any], ptr: str) -> DeclaredParameter:
        location = str(param["in"])
        default_style = {"query": "form", "cookie": "form"}.get(location, "simple")
        style = str(param.get("style", default_style))
        explode = bool(param.get("explode", style == "form"))
        schema = self.flat_schema(param.get("schema", {}))
        types = types_of(schema)
        kind = "array" if "array" in types else "object" if "object" in types else "primitive"
        object_keys: tuple[str, ...] = ()
        if kind == "object" and style == "form" and explode:
            # style=form + explode=true: each property is its own top-level query key.
            object_keys = tuple(schema.get("properties", {}))
        return DeclaredParameter(
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

    def match(self, path: str) -> list[tuple[DeclaredPath, dict[str, str]]]:
        found = []
        for route in self.routes:
            m = route.regex.fullmatch(path)
            if m is not None:
                values = {name: m.group(f"v{i}") for i, name in enumerate(route.variables)}
                found.append((route, values))
        return found

    def find(
        self, method: str, path: str
    ) -> tuple[DeclaredOperation | None, dict[str, str], str | None]:
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


def types_of(schema: Mapping[str, Any]) -> tuple[str, ...]:
    raw = schema.get("type")
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list):
        return tuple(str(t) for t in raw)
    return ()


def _describe(error: _SchemaError, where: str) -> str:
    location = f"{where} {error.json_path}" if error.absolute_path else where
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{location}: {message}"


class CastError(ValueError):
    pass


_INT_RE = re.compile(r"-?[0-9]+")


def cast_value(raw: str, schema: Mapping[str, Any]) -> Any:
    """Convert a serialised parameter value to the JSON type its schema declares."""
    types = types_of(schema)
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
    raise CastError(f"{raw!r} is not a valid {' or '.join(types)}")


@cache
def load_contract() -> Contract:
    """The committed contract, read and compiled once."""
    with SPEC.open(encoding="utf-8") as fh:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(fh, Loader=loader)  # a safe loader (C-accelerated if available)
    return Contract(document)
