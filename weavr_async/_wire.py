"""What goes on and comes off the wire, checked: pure functions, no I/O.

Every value the caller puts into a URL or a header is checked here before anything is sent,
and every header and error body the server answers is read here before it is believed: sizes
bounded, control characters refused, numbers that would stall the client clamped.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson
from yarl import URL

from .errors import APIError, InvalidRequest, RateLimited, error_class_for

__all__ = [
    "MAX_RATE_LIMIT_WINDOW",
    "check_base_url",
    "check_header_value",
    "error_from_response",
    "join_url",
    "parse_rate_limit",
    "parse_rate_limit_reset",
    "request_ref_of",
]

MAX_RATE_LIMIT_WINDOW = 86_400.0
"""The longest window a 429's `x-ratelimit-limit` may describe (a day, the API's longest)."""
_MAX_LIMIT = 10**9
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
_REQUEST_REF = re.compile(r"[\x21-\x7e]{1,128}")
_MAX_ERROR_TEXT = 500


def join_url(base_url: str, path: str) -> str:
    """Join the base (which has a path of its own, e.g. /multi/backoffice) and an API path."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def check_base_url(value: object, *, allow_insecure_http: bool = False) -> str:
    """The base URL as it will be used, or `InvalidRequest`.

    No userinfo (aiohttp would send it as Basic credentials, and it would show in reprs), no
    query or fragment, and `https` unless the host is loopback or the caller opted out: plain
    http to another host carries the API key and tokens in clear.
    """
    if not isinstance(value, str) or not value:
        raise InvalidRequest("base_url", "expected an http(s) URL")
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in value):
        raise InvalidRequest("base_url", "contains whitespace, control or non-ASCII characters")
    try:
        url = URL(value)
    except ValueError as exc:
        raise InvalidRequest("base_url", "is not a URL") from exc
    if url.scheme not in ("https", "http") or not url.host:
        raise InvalidRequest("base_url", "expected an http(s) URL with a host")
    if url.user is not None or url.password is not None or "@" in (url.raw_authority or ""):
        # The message must not repeat the URL: it holds a password.
        raise InvalidRequest("base_url", "must not carry credentials (user:password@)")
    if url.query_string or url.fragment:
        raise InvalidRequest("base_url", "must not have a query or a fragment")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise InvalidRequest(
            "base_url",
            f"plain http to {url.host} would send the API key in clear: use https "
            "(or allow_insecure_http=True, for a trusted network only)",
        )
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_header_value(
    value: object, field: str, *, max_length: int, allow_space: bool = False
) -> str:
    """A value bound for an HTTP header: ASCII without control characters (a CR or LF would
    split the header; aiohttp refuses it at send time with the value in its frames).

    The message never repeats the value: the API key passes through here.
    """
    if not isinstance(value, str):
        raise InvalidRequest(field, f"expected a string, got {type(value).__name__}")
    if not value:
        raise InvalidRequest(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidRequest(field, f"must have at most {max_length} characters")
    pattern = _PRINTABLE_ASCII if allow_space else _VISIBLE_ASCII
    if not pattern.fullmatch(value):
        hint = " (a trailing newline from a file? strip it)" if value[-1:] in "\r\n" else ""
        raise InvalidRequest(field, f"must be ASCII without whitespace or control characters{hint}")
    return value


def request_ref_of(headers: Mapping[str, str]) -> str | None:
    """The `request-ref` header if it looks like one: it ends up in messages and logs, where
    a hostile server's control characters or megabytes of text do not belong."""
    value = headers.get("request-ref")
    if value is None or not _REQUEST_REF.fullmatch(value):
        return None
    return value


def parse_rate_limit(headers: Mapping[str, str]) -> tuple[int, float] | None:
    """The limit that was exceeded and its window in seconds, from `x-ratelimit-limit`.

    The header reads like `20, 10;w=60, 20;w=3600`: the exceeded limit first, then every
    limit in force with its window. Without a matching window the limit is taken per second;
    a window beyond `MAX_RATE_LIMIT_WINDOW`, non-finite or not positive is not believed, and
    then nothing is (None).
    """
    raw = headers.get("x-ratelimit-limit")
    if not raw or len(raw) > 1024:
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    exceeded = _bounded_int(parts[0].split(";")[0]) if parts else None
    if exceeded is None:
        return None
    for part in parts[1:]:
        fields = [f.strip() for f in part.split(";")]
        if _bounded_int(fields[0]) != exceeded:
            continue
        for field in fields[1:]:
            if field.startswith("w="):
                window = _finite(field[2:])
                if window is not None and 0 < window <= MAX_RATE_LIMIT_WINDOW:
                    return exceeded, window
                return None  # a window was given and is not believable: learn nothing
    return exceeded, 1.0


def parse_rate_limit_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until the throttling window resets, from `x-ratelimit-reset` (finite, ≥ 0)."""
    raw = headers.get("x-ratelimit-reset")
    if raw is None or len(raw) > 64:
        return None
    value = _finite(raw.strip())
    return value if value is not None and value >= 0 else None


def _bounded_int(text: str) -> int | None:
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= _MAX_LIMIT else None


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def error_from_response(
    operation_id: str, status: int, headers: Mapping[str, str], body: bytes
) -> APIError:
    """The typed exception for an error response, with whatever the body says about it.

    The server's text goes into messages and logs: it is bounded in length and stripped of
    control characters first.
    """
    data: Any = None
    if body:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
    error_code = message = None
    validation: list[Mapping[str, Any]] = []
    if isinstance(data, Mapping):
        error_code = _text(data.get("errorCode")) or _text(data.get("code"))
        message = _text(data.get("message"))
        raw_validation = data.get("validationErrors")
        if isinstance(raw_validation, list):
            validation.extend(_entry(v) for v in raw_validation if isinstance(v, Mapping))
        syntax = data.get("syntaxErrors")
        if isinstance(syntax, Mapping) and isinstance(syntax.get("invalidFields"), list):
            validation.extend(_entry(v) for v in syntax["invalidFields"] if isinstance(v, Mapping))
    if message is None and data is None and body:
        message = _text(body[:_MAX_ERROR_TEXT].decode("utf-8", "replace"))
    cls = error_class_for(status)
    kwargs: dict[str, Any] = {
        "error_code": error_code,
        "message": message,
        "validation_errors": validation[:100],
        "request_ref": request_ref_of(headers),
        "operation": operation_id,
        "body": data,
    }
    if cls is RateLimited:
        return RateLimited(status, retry_after=parse_rate_limit_reset(headers), **kwargs)
    return cls(status, **kwargs)


def _text(value: object) -> str | None:
    """A server string fit for a message: printable, at most `_MAX_ERROR_TEXT` characters."""
    if not isinstance(value, str) or not value:
        return None
    cleaned = "".join(c if c.isprintable() else " " for c in value[:_MAX_ERROR_TEXT]).strip()
    return cleaned or None


def _entry(value: Mapping[str, Any]) -> dict[str, Any]:
    """A validation error with its strings made fit for a message."""
    return {str(k)[:100]: (_text(v) if isinstance(v, str) else v) for k, v in value.items()}
