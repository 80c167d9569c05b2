"""Access Token (and User Impersonation): tokens for an identity."""

from __future__ import annotations

from .._identities import issue_token
from .._replies import Reply
from ._call import Call

__all__ = ["request_token"]


def request_token(call: Call) -> Reply:
    """A new token, as ``{"token": {"token": ...}}`` (the contract) or a bare string."""
    reply = issue_token(call.store, call.json_body())
    if call.knobs.token_shape == "object":
        reply.body["token"] = {"token": reply.body["token"]}
    return reply
