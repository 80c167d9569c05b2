"""What the access-token operations answer."""

from __future__ import annotations

import attrs

from ._answered import Answered
from .common import Identity, Secret

__all__ = ["AccessToken", "CredentialId"]


@attrs.define(slots=True, frozen=True)
class CredentialId:
    type: str
    id: str


@attrs.define(slots=True, frozen=True)
class AccessToken(Answered):
    """A bearer token for one identity; the token itself is a `Secret`."""

    token: Secret
    identity: Identity | None = None
    credentials: CredentialId | None = None
