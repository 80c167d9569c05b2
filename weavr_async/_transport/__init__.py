"""The one place where HTTP happens (see `transport.py`): values and protocols, redaction,
proxies, the attempt signals, and the `Transport` that sends every request."""

from .redaction import frameless
from .transport import Transport, decode_json
from .values import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_DOWNLOAD_SIZE,
    SANDBOX_URL,
    Auth,
    CallOptions,
    DownloadSink,
    Response,
    Retry,
    TransportStats,
)

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_DOWNLOAD_SIZE",
    "SANDBOX_URL",
    "Auth",
    "CallOptions",
    "DownloadSink",
    "Response",
    "Retry",
    "Transport",
    "TransportStats",
    "decode_json",
    "frameless",
]
