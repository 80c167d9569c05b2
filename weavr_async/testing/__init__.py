"""Embedded simulator of the Weavr Multi BackOffice API v3, for tests and benchmarks.

``FakeBackOffice`` runs a real aiohttp server on 127.0.0.1 implementing all 32 operations of
the contract over deterministic, seeded in-memory state, with fault injection and inspection
hooks. It is self-contained: it does not import the SDK client.
"""

from ._faults import FaultAction, Faults
from ._server import BASE_PATH, FakeBackOffice
from ._state import (
    HISTORY_END_MS,
    RecordedRequest,
    SeededIdentity,
    SeededInstrument,
    SeededUser,
)

__all__ = [
    "BASE_PATH",
    "HISTORY_END_MS",
    "FakeBackOffice",
    "FaultAction",
    "Faults",
    "RecordedRequest",
    "SeededIdentity",
    "SeededInstrument",
    "SeededUser",
]
