"""Access tokens for identities (the client obtains them by itself; this is the raw call)."""

from __future__ import annotations

import attrs

from .._operation import Operation
from ..errors import InvalidRequest
from ..models import AccessToken, Identity
from ._base import Resource
from ._validators import check_choice, check_identifier

REQUEST = Operation(
    "requestAccessToken",
    "POST",
    "/access_token",
    secured=False,
    naturally_idempotent=True,  # asking again only yields another valid token
)
IMPERSONATE = Operation(
    "impersonateIdentityLogin",
    "POST",
    "/impersonate_identity_login",
    deprecated=True,
    replacement="POST /access_token, which the client calls by itself",
)


def identity_body(identity: object, field: str = "identity") -> dict[str, object]:
    if not isinstance(identity, Identity):
        raise InvalidRequest(field, "expected an Identity (Identity.corporate('...'))")
    return {
        "identity": {
            "type": check_choice(identity.type, f"{field}.type", ("CORPORATE", "CONSUMER")),
            "id": check_identifier(identity.id, f"{field}.id"),
        }
    }


class AccessTokens(Resource):
    async def create(self, identity: Identity) -> AccessToken:
        """A new bearer token for `identity` (`POST /access_token`, with the API key only)."""
        return await self._call(REQUEST, AccessToken, body=identity_body(identity))

    async def _create_once(self, identity: Identity) -> AccessToken:
        """One attempt, no retry: how the client gets the tokens its calls need, so that a
        token request counts against the retry budget of the call that needed it (retries
        nested in retries would multiply)."""
        once = attrs.evolve(self._context.options.retry, max_attempts=1)
        return await self._call(REQUEST, AccessToken, body=identity_body(identity), retry=once)


class Impersonation(Resource):
    async def login(self, identity: Identity) -> AccessToken:
        """Deprecated by the API (each call warns): the client gets its tokens by itself."""
        return await self._call(IMPERSONATE, AccessToken, body=identity_body(identity))
