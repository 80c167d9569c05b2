"""The base of the models a call returns: where the call keeps what its response said.

`response_info(model)` (in `weavr_async`) reads it. One slot of its own, set by a single
store when the call returns; not an attrs field, so no part of equality, repr, pickling or
`attrs.evolve` (a copy was not returned by a call, and has none).
"""

from __future__ import annotations

__all__ = ["Answered"]


class Answered:
    __slots__ = ("_weavr_response",)
