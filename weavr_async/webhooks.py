"""Verify (and, for tests, sign) the webhook deliveries Weavr sends.

Weavr signs each delivery with four headers:

* ``call-ref``: the delivery's reference;
* ``published-timestamp``: when it was published, in epoch milliseconds;
* ``signature-v2``: base64 HMAC-SHA256, keyed with the API key, over ``call-ref``, the raw body
  and ``published-timestamp`` concatenated with no separators;
* ``signature`` (legacy): base64 HMAC-SHA256, keyed with the API key, of
  ``published-timestamp`` alone.

`verify` checks ``signature-v2`` whenever it is present, and then ignores ``signature``: a right
legacy signature never rescues a wrong v2 one. Only a delivery without ``signature-v2`` is
checked against the legacy signature, and ``require_v2=True`` refuses those too. Prefer it when
your deliveries carry v2: the legacy signature does not cover the body, so within the replay
window anyone who saw one delivery can attach its headers to a body of their own.

Pure functions, no I/O: call `verify` from any web framework with the request's headers and
its body exactly as received (bytes, before any JSON parsing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time
import uuid
from collections.abc import Mapping
from typing import TypeGuard

from .errors import InvalidRequest, WebhookVerificationError

__all__ = [
    "CALL_REF",
    "PUBLISHED_TIMESTAMP",
    "SIGNATURE",
    "SIGNATURE_V2",
    "WebhookVerificationError",
    "sign",
    "verify",
]

CALL_REF = "call-ref"
PUBLISHED_TIMESTAMP = "published-timestamp"
SIGNATURE = "signature"
SIGNATURE_V2 = "signature-v2"
_SIGNED_HEADERS = (CALL_REF, PUBLISHED_TIMESTAMP, SIGNATURE, SIGNATURE_V2)

# Bounds on what a header may hold before it is even looked at: a call-ref is an opaque
# reference of printable ASCII, a timestamp a plain run of digits (epoch ms has 13 today), a
# signature the base64 of a 32-byte HMAC (44 characters).
_CALL_REF = re.compile(r"[\x21-\x7e]{1,256}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{43}=")
_DIGEST_SIZE = hashlib.sha256().digest_size
_MAX_HEADER_VALUE = 1024


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    api_key: str,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
    require_v2: bool = False,
) -> None:
    """Check that a webhook delivery was signed with `api_key` and published within
    `tolerance` seconds of `now` (default: the current time), in either direction.

    `headers` is looked up case-insensitively (a plain dict, or aiohttp's `request.headers`).
    Raises `WebhookVerificationError` naming the check that failed (a missing, repeated or
    malformed header, a signature that does not match, a timestamp outside the window), and
    `InvalidRequest` for a bad argument. Neither ever holds the API key or a signature.
    """
    _check_arguments(raw_body, api_key, tolerance, now)
    found = _signed_headers(headers)
    timestamp = found.get(PUBLISHED_TIMESTAMP)
    if timestamp is None:
        raise WebhookVerificationError(f"the {PUBLISHED_TIMESTAMP} header is missing", "missing")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError(
            f"the {PUBLISHED_TIMESTAMP} header is not epoch milliseconds (1 to 15 digits)",
            "malformed",
        )
    call_ref = found.get(CALL_REF)
    if call_ref is not None and not _CALL_REF.fullmatch(call_ref):
        raise WebhookVerificationError(
            f"the {CALL_REF} header is not 1 to 256 printable ASCII characters", "malformed"
        )
    key = api_key.encode()
    if SIGNATURE_V2 in found:
        if call_ref is None:
            raise WebhookVerificationError(
                f"the {CALL_REF} header is missing (signature-v2 covers it)", "missing"
            )
        _compare(
            found[SIGNATURE_V2], _signature_v2(key, call_ref, raw_body, timestamp), SIGNATURE_V2
        )
    elif require_v2:
        raise WebhookVerificationError(
            f"the {SIGNATURE_V2} header is missing (the legacy signature is not accepted)",
            "missing",
        )
    elif SIGNATURE in found:
        _compare(found[SIGNATURE], _signature_legacy(key, timestamp), SIGNATURE)
    else:
        raise WebhookVerificationError(
            f"no {SIGNATURE_V2} or {SIGNATURE} header: the delivery is unsigned", "missing"
        )
    _check_freshness(int(timestamp), tolerance, time.time() if now is None else now)


def sign(
    raw_body: bytes,
    api_key: str,
    *,
    call_ref: str | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """The four headers Weavr sends with a delivery of `raw_body`, signed with `api_key`.

    For tests and simulators: `call_ref` defaults to a random UUID, `timestamp_ms` to now.
    """
    if not isinstance(raw_body, bytes | bytearray | memoryview):
        raise InvalidRequest("raw_body", "expected bytes")
    _check_key(api_key)
    ref = str(uuid.uuid4()) if call_ref is None else call_ref
    if not isinstance(ref, str) or not _CALL_REF.fullmatch(ref):
        raise InvalidRequest("call_ref", "must be 1 to 256 printable ASCII characters")
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < 10**15:
        raise InvalidRequest("timestamp_ms", "must be epoch milliseconds (an int, 0 to 10**15)")
    published = str(stamp)
    key = api_key.encode()
    return {
        CALL_REF: ref,
        PUBLISHED_TIMESTAMP: published,
        SIGNATURE: _encode(_signature_legacy(key, published)),
        SIGNATURE_V2: _encode(_signature_v2(key, ref, bytes(raw_body), published)),
    }


def _signature_v2(key: bytes, call_ref: str, raw_body: bytes, timestamp: str) -> bytes:
    message = b"".join((call_ref.encode(), raw_body, timestamp.encode()))
    return hmac.new(key, message, hashlib.sha256).digest()


def _signature_legacy(key: bytes, timestamp: str) -> bytes:
    return hmac.new(key, timestamp.encode(), hashlib.sha256).digest()


def _encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _compare(received: str, expected: bytes, header: str) -> None:
    if not _SIGNATURE.fullmatch(received):
        raise WebhookVerificationError(
            f"the {header} header is not a base64 HMAC-SHA256 (44 characters)", "malformed"
        )
    digest = base64.b64decode(received, validate=True)  # the pattern admits only base64
    # compare_digest on equal-length digests: the time taken says nothing about where they differ.
    if len(digest) != _DIGEST_SIZE or not hmac.compare_digest(digest, expected):
        raise WebhookVerificationError(f"the {header} header does not match", "mismatch")


def _check_freshness(timestamp_ms: int, tolerance: float, now: float) -> None:
    age = now - timestamp_ms / 1000
    if age > tolerance:
        raise WebhookVerificationError(
            f"the delivery was published {age:.0f} s ago, beyond the {tolerance:g} s tolerance",
            "stale",
        )
    if -age > tolerance:
        raise WebhookVerificationError(
            f"the delivery is published {-age:.0f} s in the future, beyond the "
            f"{tolerance:g} s tolerance",
            "future",
        )


def _signed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The signed headers by lower-case name; each may appear at most once, in any case."""
    if not isinstance(headers, Mapping):
        raise InvalidRequest("headers", "expected a mapping of header names to values")
    found: dict[str, str] = {}
    # items() of a multidict (aiohttp's request.headers) yields every occurrence of a name.
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        lower = name.lower()
        if lower not in _SIGNED_HEADERS:
            continue
        if lower in found:
            raise WebhookVerificationError(
                f"the {lower} header appears more than once", "duplicate"
            )
        if not isinstance(value, str) or len(value) > _MAX_HEADER_VALUE:
            raise WebhookVerificationError(
                f"the {lower} header is not a string of at most {_MAX_HEADER_VALUE} characters",
                "malformed",
            )
        found[lower] = value.strip(" \t")
    return found


def _check_arguments(raw_body: object, api_key: object, tolerance: object, now: object) -> None:
    if not isinstance(raw_body, bytes | bytearray | memoryview):
        raise InvalidRequest("raw_body", "expected the body as received, in bytes")
    _check_key(api_key)
    if not _finite(tolerance) or tolerance <= 0:
        raise InvalidRequest("tolerance", "must be a finite number of seconds > 0")
    if now is not None and (not _finite(now) or now < 0):
        raise InvalidRequest("now", "must be a finite epoch time in seconds, or None")


def _check_key(api_key: object) -> None:
    if not isinstance(api_key, str) or not api_key:
        raise InvalidRequest("api_key", "expected the API key, a non-empty string")
    try:
        api_key.encode()
    except UnicodeEncodeError:
        raise InvalidRequest("api_key", "is not encodable as UTF-8") from None


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
