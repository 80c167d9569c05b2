"""Interleaved rounds: every measure once per round, each in a fresh event loop, so that noise
from the rest of the machine falls on all of them alike; the best round is the figure and the
gap to the worst is the noise seen."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

__all__ = ["Measure", "Rates", "best", "interleaved", "spread"]

Measure = Callable[[], Awaitable[float]]  # one round of a measure: its rate (higher is better)
Rates = list[float]  # a measure's rate in each round


def interleaved(measures: Mapping[str, Measure], rounds: int) -> dict[str, Rates]:
    """Each measure's rate in every round, the measures taking turns within each round."""
    rates: dict[str, Rates] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            rates[name].append(asyncio.run(_run(measure)))
    return rates


def best(rates: Rates) -> float:
    return max(rates)


def spread(rates: Rates) -> float:
    """How far the worst round fell below the best, as a fraction of the best."""
    return (max(rates) - min(rates)) / max(rates)


async def _run(measure: Measure) -> float:
    return await measure()
