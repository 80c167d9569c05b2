"""What a run is told: the time window of its statements, how hard each identity's job
pushes, and where it reports progress."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ._checks import MAX_LISTED
from ._input import Target

__all__ = ["ALL_TIME", "DEFAULT_SETTINGS", "JobSettings", "ProgressCallback", "Window"]

ProgressCallback = Callable[[Target, int, "int | None"], None]
"""Called as a statement walk advances: the target, entries walked, entries counted."""


@attrs.frozen
class Window:
    """Entries processed at `from_ms` <= t < `to_ms` (epoch ms; None: unbounded)."""

    from_ms: int | None = None
    to_ms: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {"from": self.from_ms, "to": self.to_ms}


@attrs.frozen
class JobSettings:
    """How hard one identity's job pushes: pages in flight per walk, statements walked at
    once, seconds between checkpoints, transfer lookups per instrument."""

    page_concurrency: int = 4
    instruments_at_once: int = 4
    checkpoint_every: float = 1.0
    lookups: int = MAX_LISTED


ALL_TIME = Window()
DEFAULT_SETTINGS = JobSettings()
