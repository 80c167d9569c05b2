"""The exception hierarchy: one root, client-side validation, HTTP errors keyed by status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = [
    "APIError",
    "BadRequest",
    "BudgetExhausted",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "MalformedResponse",
    "NotFound",
    "RateLimited",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "WaitStalled",
    "WaitTimeout",
    "WeavrError",
    "WebhookVerificationError",
]


class WeavrError(Exception):
    """Root of every error raised by weavr-async."""


class InvalidRequest(WeavrError, ValueError):
    """A call was rejected on the client side, before any request was sent.

    `field` names the offending argument (in the SDK's snake_case), so a caller can point
    at it without parsing the message.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TransportError(WeavrError):
    """The network failed (connect, reset, timeout, unreadable body) and retries ran out."""

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation


class MalformedResponse(TransportError):
    """The API answered with a body that cannot be read as the contract says (not JSON,
    truncated, or missing required fields)."""


class APIError(WeavrError):
    """The API answered with an error status; subclasses are keyed by status."""

    status: int

    def __init__(
        self,
        status: int,
        *,
        error_code: str | None = None,
        message: str | None = None,
        validation_errors: Sequence[Mapping[str, Any]] = (),
        request_ref: str | None = None,
        operation: str | None = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.message = message
        self.validation_errors: tuple[Mapping[str, Any], ...] = tuple(validation_errors)
        self.request_ref = request_ref
        self.operation = operation
        self.body = body
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.status}"]
        if self.error_code:
            parts.append(self.error_code)
        if self.message:
            parts.append(self.message)
        text = " ".join(parts)
        if self.validation_errors:
            fields = ", ".join(
                f"{v.get('fieldName', '?')}: {v.get('error', v.get('message', '?'))}"
                for v in self.validation_errors
            )
            text += f" [{fields}]"
        if self.operation:
            text = f"{self.operation}: {text}"
        if self.request_ref:
            text += f" (request-ref {self.request_ref})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, error_code={self.error_code!r}, "
            f"message={self.message!r}, request_ref={self.request_ref!r})"
        )


class BadRequest(APIError):
    """400: the API judged the request invalid."""


class Unauthorized(APIError):
    """401: the API key or the identity's access token was refused."""


class Forbidden(APIError):
    """403: the identity may not act on that resource."""


class NotFound(APIError):
    """404: no such resource."""


class Conflict(APIError):
    """409: the resource's state forbids the action; `error_code` says why."""


class RateLimited(APIError):
    """429: too many requests; `retry_after` is the API's `x-ratelimit-reset` in seconds."""

    def __init__(self, status: int, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(status, **kwargs)


class ServerError(APIError):
    """5xx: the API failed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def error_class_for(status: int) -> type[APIError]:
    """The exception class the SDK raises for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


class WaitTimeout(WeavrError):
    """A waiter ran out of time before the resource reached a final state.

    `status` is the last state seen (None when no answer came in time), `last` the last
    resource read, `waited` the seconds spent.
    """

    def __init__(
        self, what: str, *, status: str | None, last: object = None, waited: float
    ) -> None:
        seen = f"last seen {status}" if status is not None else "no state seen"
        super().__init__(f"{what}: not final after {waited:.1f} s ({seen})")
        self.status = status
        self.last = last
        self.waited = waited


class WaitStalled(WeavrError):
    """A waiter stopped because the resource reached a state it leaves only when somebody
    acts (a PAUSED bulk process waits for `resume` or `cancel`); `last` is what was read."""

    def __init__(self, what: str, *, status: str, last: object = None) -> None:
        super().__init__(f"{what}: {status}, it will not finish without an action")
        self.status = status
        self.last = last


WebhookFailure = Literal["missing", "duplicate", "malformed", "mismatch", "stale", "future"]


class WebhookVerificationError(WeavrError):
    """A webhook delivery failed verification; `reason` says which check, the message says
    what was wrong. Neither ever holds the API key or a signature."""

    def __init__(self, message: str, reason: WebhookFailure) -> None:
        super().__init__(f"webhook verification failed: {message}")
        self.reason: WebhookFailure = reason


class BudgetExhausted(WeavrError):
    """The API budget has no room for a request within the wait the caller allows.

    Raised at once, before waiting: `retry_after` is the seconds until a request may start,
    `available_at` the same moment as epoch seconds, and `window` the exhausted
    `(limit, seconds)` (None when the gate a 429 closed is what holds it shut). A stream
    that stops on it sets `checkpoint`, so the walk can resume once the budget returns.
    """

    def __init__(
        self,
        *,
        retry_after: float,
        available_at: float,
        window: tuple[int, float] | None,
        checkpoint: Any = None,
    ) -> None:
        self.retry_after = retry_after
        self.available_at = available_at
        self.window = window
        self.checkpoint = checkpoint
        super().__init__(self._describe())

    def _describe(self) -> str:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(self.available_at, UTC).isoformat(timespec="seconds")
        if self.window is None:
            held = "the gate a 429 closed"
        else:
            limit, seconds = self.window
            held = f"{limit} requests per {seconds:g} s"
        return f"API budget exhausted ({held}): next request in {self.retry_after:.3f} s, at {when}"

    def __repr__(self) -> str:
        return (
            f"BudgetExhausted(retry_after={self.retry_after!r}, "
            f"available_at={self.available_at!r}, window={self.window!r})"
        )
