"""What an operation answers before HTTP: a `Reply`, or a `Refused` raised where it is decided.

Business rules and request parsing raise `Refused` (404, 403, 409, or the 400 of the field
problems found) at the point they decide it; the app answers it once, rendering a 400 in the
body shape its operation declares (`ErrorStyle`), and a bulk records it as a failed operation.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from ._validation import Problems

__all__ = [
    "ErrorStyle",
    "Refused",
    "Reply",
    "conflict",
    "forbidden",
    "invalid",
    "not_found",
]

ErrorStyle = Literal["syntax", "validation"]
"""The 400 body an operation declares: BadRequestError (``syntaxErrors``) or
BackofficeBadRequestError (``validationErrors``)."""


@attrs.define(slots=True)
class Reply:
    """An operation's answer: HTTP status and JSON-able body (None for no content)."""

    status: int
    body: Any = None


class Refused(Exception):
    """An operation refused: its status and body, or the field problems of a 400."""

    def __init__(self, status: int, body: Any = None, problems: Problems | None = None) -> None:
        super().__init__(f"refused with {status}")
        self.status = status
        self.body = body
        self.problems = problems

    def reply(self, style: ErrorStyle) -> Reply:
        """The answer, a 400's body in ``style``."""
        if self.problems is not None:
            return Reply(400, self.problems.body(syntax=style == "syntax"))
        return Reply(self.status, self.body)


def conflict(code: str) -> Refused:
    """409 with ``{"errorCode": code}``."""
    return Refused(409, {"errorCode": code})


def forbidden() -> Refused:
    """403 INSUFFICIENT_PERMISSIONS (fits both Forbidden and InstrumentForbidden)."""
    return Refused(403, {"errorCode": "INSUFFICIENT_PERMISSIONS"})


def not_found(what: str) -> Refused:
    """404 with the Error body."""
    return Refused(404, {"code": "NOT_FOUND", "message": f"{what} not found"})


def invalid(problems: Problems) -> Refused:
    """400 listing ``problems``, in the body shape of the operation that found them."""
    return Refused(400, problems=problems)
