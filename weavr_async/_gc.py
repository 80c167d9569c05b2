"""The cyclic garbage collector paused while a response's JSON and its models are built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (and leave it off if it was off).

    A 500-entry page decodes into thousands of small dicts and lists, and its models into as
    many objects again, none of them in a cycle. Every allocation counts towards the
    collector's next run, so left on it runs over and over while they are built, traversing
    them and every page still buffered for nothing: measured as about a third of a walk's
    time (benchmarks/bench_walk.py, benchmarks/bench_models.py).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
