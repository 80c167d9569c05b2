"""The SDK's own OpenTelemetry spans, when `opentelemetry-api` is installed (else nothing).

One span per logical call (`weavr <operationId>`: attempts, retries, status, request-ref) and
one per stream walk (`weavr walk <operationId>`: pages, items, repairs), so an aiohttp client
instrumentation's per-request spans nest under the call that made them. Attributes are what
the SDK knows to be safe: no header, body, key or token is ever recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._version import __version__

__all__ = ["NO_SPAN", "span", "start_span", "tracing"]

try:
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    _trace = None  # type: ignore[assignment]


def tracing() -> bool:
    """Whether spans would go anywhere: OpenTelemetry is installed and a tracer provider has
    been set (until then its API hands out spans that record nothing, at a cost per call).

    Asked on every call, so answered cheaply: a provider, once set, stays set (OpenTelemetry
    allows it once), and until then the module global OpenTelemetry keeps it in is read
    directly rather than through `get_tracer_provider` (which looks the environment up)."""
    global _provider_set
    if _provider_set:
        return True
    if _trace is None:
        return False
    if _PEEK and getattr(_trace, "_TRACER_PROVIDER", None) is None:
        return False
    _provider_set = not isinstance(_trace.get_tracer_provider(), _trace.ProxyTracerProvider)
    return _provider_set


_provider_set = False
# The shortcut is taken only where it is known to mean what it seems: OpenTelemetry keeps the
# provider in that global, and no provider is named by the environment (which
# `get_tracer_provider` would load on first use).
_PEEK = (
    _trace is not None
    and hasattr(_trace, "_TRACER_PROVIDER")
    and "OTEL_PYTHON_TRACER_PROVIDER" not in os.environ
)


class _Span:
    """What the SDK records on a span; a no-op without OpenTelemetry."""

    __slots__ = ("_span",)

    def __init__(self, span: Any) -> None:
        self._span = span

    def set(self, key: str, value: str | int | float | bool | None) -> None:
        if self._span is not None and value is not None:
            self._span.set_attribute(key, value)

    def end(self) -> None:
        if self._span is not None:
            self._span.end()

    def failed(self, exc: BaseException) -> None:
        if self._span is not None:
            self._span.set_attribute("error.type", type(exc).__name__)
            self._span.set_status(_trace.Status(_trace.StatusCode.ERROR, type(exc).__name__))


NO_SPAN = _Span(None)


def start_span(name: str, **attributes: str | int | None) -> _Span:
    """A span that is not made current, for work that yields to its caller (a walk): the
    caller's code runs between its steps, in its own context. `end()` it."""
    if not tracing():
        return NO_SPAN
    started = _Span(_trace.get_tracer("weavr_async", __version__).start_span(name))
    for key, value in attributes.items():
        started.set(key, value)
    return started


@contextmanager
def span(name: str, **attributes: str | int | None) -> Iterator[_Span]:
    """A span named `name` made current for its body, with `attributes` (None ones left out).

    An exception leaving the body marks the span as failed with the exception's type (its
    message is not recorded: the SDK's own hold no secret, but other libraries' might)."""
    if _trace is None:
        yield _Span(None)
        return
    tracer = _trace.get_tracer("weavr_async", __version__)
    with tracer.start_as_current_span(
        name, record_exception=False, set_status_on_exception=False
    ) as current:
        recorded = _Span(current)
        for key, value in attributes.items():
            recorded.set(key, value)
        try:
            yield recorded
        except BaseException as exc:
            recorded.failed(exc)
            raise
