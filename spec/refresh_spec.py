#!/usr/bin/env python3
"""Regenerate the committed contract from the upstream Weavr description.

The contract is written to ``weavr_async/testing/contract/backoffice.openapi.yaml``, inside the
package, which ships it: strict mode (``FakeBackOffice(strict=True)``) checks requests and
answers against it.

Usage::

    python spec/refresh_spec.py [UPSTREAM_PATH]

``UPSTREAM_PATH`` defaults to ``../shared/upstream/weavr-multi-backoffice-openapi.yml``
relative to the repository root.  This script is the only place in the repository that reads
the upstream document; everything else (tests, simulator, CI) uses the committed output.

The output keeps the *structure* of the contract -- paths, methods, operationIds, tags,
parameters, request bodies, responses, components, security, ``deprecated`` flags and
servers -- and drops the documentation prose: ``description``/``summary``/``title``
annotations, examples, vendor extensions (``x-logo``, ``x-tagGroups``,
``x-enumDescriptions``, ...), ``contact`` and ``externalDocs``.

Keywords are only dropped where they are annotation keywords.  Keys of mappings whose keys
are *names* (``properties``, ``schemas``, ``headers``, ``content``, ...) are always kept, so
a schema property called ``description`` survives with its full schema.

OpenAPI requires a ``description`` on every Response Object; the generated file carries a
short label of its own there (the HTTP reason phrase for inline responses keyed by a status
code, the humanised component name for ``components.responses``).

Output is deterministic: key order follows the upstream document, and running the script
twice on the same input produces a byte-identical file.
"""

from __future__ import annotations

import argparse
import hashlib
import http
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_UPSTREAM = REPO_ROOT.parent / "shared" / "upstream" / "weavr-multi-backoffice-openapi.yml"
OUTPUT = REPO_ROOT / "weavr_async" / "testing" / "contract" / "backoffice.openapi.yaml"

# Annotation keywords removed wherever they appear in keyword position.
ANNOTATION_KEYS = frozenset(
    {
        "description",
        "summary",
        "title",
        "example",
        "examples",
        "contact",
        "termsOfService",
        "externalDocs",
        "$comment",
    }
)

# Keys whose value is a mapping from *names* (property names, component names, media types,
# status codes, header names, ...) to objects.  The names themselves are never dropped.
NAME_MAP_KEYS = frozenset(
    {
        "paths",
        "webhooks",
        "schemas",
        "parameters",  # a mapping only under components; a list in operations
        "responses",
        "requestBodies",
        "headers",
        "securitySchemes",
        "links",
        "callbacks",
        "pathItems",
        "content",
        "encoding",
        "properties",
        "patternProperties",
        "dependentSchemas",
        "$defs",
        "definitions",
        "variables",
    }
)

# Keys whose value is a mapping of names to plain values (kept verbatim).
VERBATIM_KEYS = frozenset({"enum", "const", "default", "mapping", "scopes", "required"})

# Keys whose value is a list of mappings from names (security requirement objects).
NAME_MAP_LIST_KEYS = frozenset({"security"})

HEADER = """\
# GENERATED FILE -- do not edit by hand.
#
# Structural contract of the Weavr Multi Product BackOffice API v3: operations, parameters,
# request/response schemas, components and security, with the documentation prose removed.
#
# Refresh:  python spec/refresh_spec.py [UPSTREAM_PATH]
#           (default UPSTREAM_PATH: ../shared/upstream/weavr-multi-backoffice-openapi.yml)
# Upstream sha256: {digest}
"""


def _response_label(name: str, *, component: bool) -> str:
    """A short label of our own for a Response Object's required ``description``."""
    if not component:
        if name.isdigit():
            try:
                return http.HTTPStatus(int(name)).phrase
            except ValueError:
                return f"HTTP {name}"
        if name == "default":
            return "Unexpected error"
        return f"HTTP {name}"
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split()
    return " ".join(words).capitalize()


def _strip(node: Any) -> Any:
    """Strip annotations from ``node``, which is in *keyword* position."""
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        key = str(key)
        if key in ANNOTATION_KEYS or key.startswith("x-"):
            continue
        if key in VERBATIM_KEYS:
            out[key] = _copy(value)
        elif key in NAME_MAP_KEYS and isinstance(value, Mapping):
            out[key] = _strip_name_map(value, key)
        elif key in NAME_MAP_LIST_KEYS and isinstance(value, list):
            out[key] = [
                _strip_name_map(item, key) if isinstance(item, Mapping) else _copy(item)
                for item in value
            ]
        else:
            out[key] = _strip(value)
    return out


def _strip_name_map(node: Mapping[Any, Any], owner: str) -> dict[str, Any]:
    """Strip a mapping whose keys are names (kept as-is); its values are in keyword position."""
    out: dict[str, Any] = {}
    for name, value in node.items():
        name = str(name)
        stripped = _strip(value)
        if owner == "responses" and isinstance(stripped, dict) and "$ref" not in stripped:
            # Response Objects must carry a description; use our own short label.
            stripped = {"description": _response_label(name, component=False), **stripped}
        out[name] = stripped
    return out


def _copy(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(item) for item in node]
    return node


def build_contract(upstream: Mapping[str, Any]) -> dict[str, Any]:
    """Return the structural contract derived from a parsed upstream document."""
    doc: dict[str, Any] = _strip(upstream)

    info = upstream.get("info", {})
    doc["info"] = {"title": info.get("title", ""), "version": info.get("version", "")}

    # Component responses are labelled from their component name rather than a status code.
    responses = doc.get("components", {}).get("responses", {})
    for name, response in responses.items():
        if isinstance(response, dict) and "$ref" not in response:
            response["description"] = _response_label(name, component=True)

    # Tag objects keep only their names; names must be unique (the upstream lists one twice).
    if "tags" in doc:
        seen: list[str] = []
        for tag in doc["tags"]:
            if tag.get("name") not in seen:
                seen.append(tag["name"])
        doc["tags"] = [{"name": name} for name in seen]
    return doc


def render(upstream_text: str) -> str:
    upstream = yaml.safe_load(upstream_text)
    contract = build_contract(upstream)
    body = yaml.safe_dump(
        contract,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10_000,
        indent=2,
    )
    if yaml.safe_load(body) != contract:  # pragma: no cover - guards the YAML round trip
        raise RuntimeError("generated YAML does not round-trip")
    digest = hashlib.sha256(upstream_text.encode("utf-8")).hexdigest()
    return HEADER.format(digest=digest) + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "upstream",
        nargs="?",
        type=Path,
        default=DEFAULT_UPSTREAM,
        help="upstream OpenAPI document (default: %(default)s)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=OUTPUT, help="output file (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    upstream_path: Path = args.upstream
    output: Path = args.output
    if not upstream_path.is_file():
        print(f"upstream contract not found: {upstream_path}", file=sys.stderr)
        return 1
    text = render(upstream_path.read_text(encoding="utf-8"))
    output.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
