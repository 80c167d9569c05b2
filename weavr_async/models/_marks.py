"""How a model marks a string field whose values repeat from one object to the next (states,
transaction types): decoding keeps one string object per distinct value within a page, so a
collected walk does not hold the same few words thousands of times over (`_shared.py`).

    entry_state: str = attrs.field(metadata=SHARED_STR)
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SHARED", "SHARED_STR"]

SHARED = "weavr_async.shared"
"""The attrs metadata key of a field whose equal values decode to one object per page."""

SHARED_STR: Mapping[str, bool] = {SHARED: True}
"""The metadata of such a field."""
