"""What the simulator hands its user: the seeded records and the requests it received."""

from __future__ import annotations

from typing import Literal

import attrs

from ..models.common import Identity

__all__ = [
    "HISTORY_END_MS",
    "IdentityType",
    "RecordedRequest",
    "SeededIdentity",
    "SeededInstrument",
    "SeededUser",
]

# Seeded histories end here by default (2026-01-01T00:00:00Z): a fixed anchor keeps them
# identical for a seed, whatever the day the simulator runs.
HISTORY_END_MS = 1_767_225_600_000

IdentityType = Literal["CORPORATE", "CONSUMER"]


@attrs.frozen
class SeededIdentity:
    """An identity created with ``FakeBackOffice.add_identity``."""

    id: str
    type: IdentityType

    @property
    def identity_type(self) -> IdentityType:
        """``CORPORATE`` or ``CONSUMER`` (alias of ``type``)."""
        return self.type

    @property
    def identity(self) -> Identity:
        """The same identity as the SDK names it, for ``BackOffice.identity(...)``."""
        return Identity(self.type, self.id)


@attrs.frozen
class SeededInstrument:
    """A managed account or card created with ``add_managed_account`` / ``add_managed_card``."""

    id: str
    kind: str
    identity_id: str
    currency: str
    mode: str | None = None


@attrs.frozen
class SeededUser:
    """An authorised user created with ``FakeBackOffice.add_user``."""

    id: str
    identity_id: str
    email: str = ""


@attrs.define
class RecordedRequest:
    """One request as received: path is relative to the base URL, header names lower-cased.

    ``status`` is the status answered (0 while in flight, or when the connection was dropped).
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    operation_id: str | None = None
