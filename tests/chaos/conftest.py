"""Chaos fixtures: a strict simulator per test, and the figures printed after the run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from weavr_async.testing import FakeBackOffice
from weavr_async.testing.contract import make_request_validator

Figures = dict[str, dict[str, object]]
FIGURES_KEY = pytest.StashKey[Figures]()


@pytest.fixture
async def chaos_fake() -> AsyncIterator[FakeBackOffice]:
    """The simulator in strict contract mode (an SDK request off the contract is a 400); a
    500 of its own making (a handler that raised) would pass for an injected one, so none may
    happen."""
    async with FakeBackOffice(seed=11, request_validator=make_request_validator()) as server:
        yield server
    assert server.handler_errors == []


@pytest.fixture
def chaos_figures(request: pytest.FixtureRequest) -> Figures:
    """Figures by scenario, printed as one table at the end of the run."""
    return request.config.stash.setdefault(FIGURES_KEY, {})


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    figures = config.stash.get(FIGURES_KEY, {})
    if not figures:
        return
    scenarios = list(figures)
    labels: list[str] = []
    for values in figures.values():
        labels.extend(label for label in values if label not in labels)
    # Errors by class last, in one order whichever scenario met a class first.
    typed = sorted(label for label in labels if label.startswith(("typed:", "UNTYPED:")))
    labels = [label for label in labels if label not in typed] + typed
    width = max(len(label) for label in labels)
    columns = [max(len(s), *(len(str(v)) for v in figures[s].values())) for s in scenarios]
    terminalreporter.write_sep("=", "chaos figures")
    header = " " * width + "".join(f"  {s:>{w}}" for s, w in zip(scenarios, columns, strict=True))
    terminalreporter.write_line(header)
    for label in labels:
        cells = "".join(
            f"  {figures[s].get(label, '-')!s:>{w}}"
            for s, w in zip(scenarios, columns, strict=True)
        )
        terminalreporter.write_line(f"{label:<{width}}{cells}")
