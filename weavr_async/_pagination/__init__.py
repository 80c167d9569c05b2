"""The one pagination engine: concurrent offset/limit walks that are exact snapshots.

No page is believed until it is checked, and a walk repairs or raises: it never ends short.

- `values`: what an operation declares (Endpoint, SnapshotRule) and what a walk hands back
  (Page, Progress, WalkPlan);
- `checkpoint`: Checkpoint, the checks one handed back must pass, and its call's fingerprint;
- `checks`: what a page must satisfy before it is believed (pure);
- `snapshot`: the time window, cursor, filter and walk state of a snapshot (pure);
- `source`: PageSource, the listing a walk fetches its pages from;
- `walk`: segments fetched ahead within the concurrency window, and the repairs between them;
- `stream`: Stream, the public face of a walk.
"""

from .checkpoint import Checkpoint
from .stream import Stream
from .values import Endpoint, Page, Progress, SnapshotRule, WalkPlan
from .walk import PAGE_TASK_NAME

__all__ = [
    "PAGE_TASK_NAME",
    "Checkpoint",
    "Endpoint",
    "Page",
    "Progress",
    "SnapshotRule",
    "Stream",
    "WalkPlan",
]
