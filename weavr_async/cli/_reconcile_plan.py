"""The plan of a `weavr-async reconcile` run: told before it starts (instruments, the fewest
requests they take, the time under the API budget) and refined as it goes, once first pages
have told how long the statements are."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .. import RateBudget, reconcile

__all__ = ["PAGE_CAPS", "Estimate", "duration", "plan_line"]

PAGE_CAPS = {"managed_accounts": 500, "managed_cards": 100}
"""Entries per statement page (the endpoints' caps, the SDK's default page sizes)."""


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan_line(
    targets: Sequence[reconcile.Target],
    store: reconcile.StateStore,
    budget: RateBudget,
    where: str,
    resumed: bool,
) -> str:
    """What the run has to do, before it sends anything."""
    plan = reconcile.plan(targets, store)
    line = f"plan: {plan.instruments:,} instruments of {plan.identities:,} identities {where}"
    if resumed:
        line += f", {plan.finished:,} already done ({store.root})"
    if plan.finished == plan.instruments:
        return line
    windows = ", ".join(f"{n:,}/{duration(s)}" for n, s in budget.limits) or "unlimited"
    return (
        f"{line}; at least {plan.min_requests:,} requests, "
        f"{duration(budget.time_for(plan.min_requests))} under the budget ({windows}); each "
        f"statement needs one more per {PAGE_CAPS['managed_accounts']} account or "
        f"{PAGE_CAPS['managed_cards']} card entries: the estimate follows its first pages"
    )


class Estimate:
    """The statement requests a run still needs, from what its walks have told so far: for a
    walk under way, one per page left (what `Stream.plan()` says of it); for one not begun, the
    average of the walks whose size is known, plus the probe that pins its snapshot."""

    def __init__(self, targets: Sequence[reconcile.Target], budget: RateBudget) -> None:
        self._types = {t.key: t.instrument.type for t in targets}
        self._budget = budget
        self._left: dict[str, int] = {}
        self._whole: dict[str, int] = {}

    def walked(self, target: reconcile.Target, done: int, total: int | None) -> None:
        if total is None:
            return
        cap = PAGE_CAPS.get(target.instrument.type, 100)
        self._left[target.key] = math.ceil(max(0, total - done) / cap)
        self._whole[target.key] = 1 + math.ceil(total / cap)

    def finished(self, result: reconcile.InstrumentResult) -> None:
        self._left[result.target.key] = 0
        cap = PAGE_CAPS.get(result.target.instrument.type, 100)
        self._whole.setdefault(result.target.key, 1 + math.ceil(result.entries / cap))

    @property
    def known(self) -> int:
        """Walks whose size is known."""
        return len(self._whole)

    def requests(self) -> int | None:
        if not self._whole:
            return None
        average = sum(self._whole.values()) / len(self._whole)
        unknown = sum(1 for key in self._types if key not in self._left)
        return sum(self._left.values()) + math.ceil(unknown * average)

    def text(self) -> str:
        requests = self.requests()
        if requests is None:
            return ""
        seconds = self._budget.time_for(requests)
        return f"~{requests:,} statement requests left, ~{duration(seconds)} under the budget"
