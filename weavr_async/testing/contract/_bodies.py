"""Bodies, request or response: the declared media type they match, and their JSON schema."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ._compiled import Contract

__all__ = ["check_body"]

# Media types whose bodies are not schema-validated (binary / tabular exports).
_UNVALIDATED_MEDIA_TYPES = frozenset({"text/csv", "application/pdf"})


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


def check_body(
    contract: Contract,
    declared: Mapping[str, str | None],
    body: bytes,
    content_type: str | None,
    where: str,
) -> list[str]:
    """What is wrong with ``body`` given the content it may declare (media type -> schema
    pointer); ``text/csv`` and ``application/pdf`` bodies only need a declared media type."""
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
