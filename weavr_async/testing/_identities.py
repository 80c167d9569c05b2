"""Identities and their access tokens."""

from __future__ import annotations

from typing import Any

from ._entities import StoredIdentity
from ._replies import Reply, conflict, invalid
from ._store import Store
from ._validation import DIGITS, Problems, check_enum, check_object, check_string

__all__ = ["add_identity", "expire_tokens", "issue_token"]


def add_identity(store: Store, kind: str, name: str | None = None) -> StoredIdentity:
    """A new CORPORATE or CONSUMER identity with its three profiles."""
    if kind not in ("CORPORATE", "CONSUMER"):
        raise ValueError("identity type must be CORPORATE or CONSUMER")
    ident = StoredIdentity(
        store.new_id(),
        kind,
        name or f"{kind.title()} {len(store.identities) + 1}",
        [store.new_id() for _ in range(3)],
    )
    store.identities[ident.id] = ident
    return ident


def issue_token(store: Store, body: Any) -> Reply:
    """A new token for the identity the body names; 409 UNRESOLVED_IDENTITY for an unknown,
    mistyped or refused one."""
    problems = Problems()
    obj = check_object(body, problems, "")
    ref = None if obj is None else check_object(obj.get("identity"), problems, "identity")
    if ref is not None:
        check_enum(ref, "type", problems, ("CORPORATE", "CONSUMER"), "identity", required=True)
        check_string(ref, "id", problems, "identity", required=True, pattern=DIGITS)
    if problems or ref is None:
        raise invalid(problems)
    identity = store.identities.get(ref["id"])
    if identity is None or identity.type != ref["type"] or identity.refused:
        raise conflict("UNRESOLVED_IDENTITY")
    token = store.random_token(48)
    identity.tokens.add(token)
    store.tokens[token] = identity
    return Reply(
        200,
        {
            "token": token,
            "identity": identity.ref(),
            "credentials": {"type": "ROOT", "id": identity.id},
        },
    )


def expire_tokens(store: Store, identity: StoredIdentity | None) -> None:
    """Forget the live tokens of ``identity`` (of every identity when None)."""
    targets = [identity] if identity is not None else list(store.identities.values())
    for ident in targets:
        for token in ident.tokens:
            store.tokens.pop(token, None)
        ident.tokens.clear()
