"""Live progress bars on stderr: redrawn in place at most ~10 times a second on a terminal,
printed as plain periodic lines when stderr is a file or a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from typing import TextIO

import attrs

__all__ = ["Bar", "ProgressBoard"]

_FILL = "█"
_PARTIAL = " ▏▎▍▌▋▊▉"
_EMPTY = "·"


@attrs.define
class Bar:
    """One tracked quantity: how many items are done out of a total that may not be known yet."""

    label: str
    done: int = 0
    total: int | None = None
    baseline: int = 0  # done before this run started (a resumed walk): not part of the rate
    note: str = ""
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        if self.total is None:
            return None
        if self.total <= 0:
            return 1.0 if self.finished else 0.0
        return min(1.0, self.done / self.total)


def draw_bar(fraction: float | None, width: int) -> str:
    """A bar of `width` cells with eighth-cell resolution (all dots while the total is unknown)."""
    if width <= 0:
        return ""
    if fraction is None:
        return _EMPTY * width
    eighths = int(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    text = _FILL * full
    if full < width:
        text += (_PARTIAL[rest] if rest else _EMPTY) + _EMPTY * (width - full - 1)
    return text


def figures(bar: Bar, elapsed: float) -> str:
    """The numbers of a bar as text: done/total, percentage, rate."""
    total = "?" if bar.total is None else f"{bar.total:,}"
    fraction = bar.fraction
    percent = "  ?%" if fraction is None else f"{fraction * 100:3.0f}%"
    rate = (bar.done - bar.baseline) / elapsed if elapsed > 0 else 0.0
    note = f"  {bar.note}" if bar.note else ""
    return f"{bar.done:>9,}/{total:<9} {percent} {rate:>9,.0f}/s{note}"


class ProgressBoard:
    """A set of bars plus a total row, drawn on `stream` by a background task.

    Redrawing on a timer rather than on every update keeps the cost independent of how often
    the walks report, and caps the terminal traffic at `interval` (default 0.1 s).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        title: str = "total",
        show_total: bool = True,
        interval: float = 0.1,
        plain_interval: float = 2.0,
        tty: bool | None = None,
    ) -> None:
        self._stream = stream
        self._tty = _is_tty(stream) if tty is None else tty
        self._interval = interval if self._tty else plain_interval
        self.bars: list[Bar] = []
        self.total = Bar(title)
        self._show_total = show_total
        self._drawn_lines = 0
        self._started = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def add(self, label: str, total: int | None = None) -> Bar:
        bar = Bar(label, total=total)
        self.bars.append(bar)
        return bar

    def _refresh_total(self) -> None:
        totals = [b.total for b in self.bars]
        self.total.done = sum(b.done for b in self.bars)
        self.total.baseline = sum(b.baseline for b in self.bars)
        self.total.total = None if any(t is None for t in totals) else sum(t or 0 for t in totals)
        self.total.finished = all(b.finished for b in self.bars)

    def _rows(self) -> list[Bar]:
        if not self._show_total:
            return list(self.bars)
        self._refresh_total()
        return [*self.bars, self.total]

    def render(self) -> list[str]:
        """The current lines of the board (terminal form)."""
        elapsed = time.monotonic() - self._started
        rows = self._rows()
        label_width = max((len(r.label) for r in rows), default=0)
        columns = shutil.get_terminal_size((100, 24)).columns
        lines = []
        for row in rows:
            numbers = figures(row, elapsed)
            width = max(10, min(40, columns - label_width - len(numbers) - 3))
            line = f"{row.label:<{label_width}} {draw_bar(row.fraction, width)} {numbers}"
            lines.append(line[: columns - 1])
        return lines

    def render_plain(self) -> str:
        """One line summing up the board (for logs and pipes)."""
        elapsed = time.monotonic() - self._started
        rows = self._rows()
        row = rows[-1]
        return f"[{elapsed:6.1f}s] {row.label}: {figures(row, elapsed).strip()}"

    def draw(self) -> None:
        """Draw the board now (in place on a terminal)."""
        if self._tty:
            lines = self.render()
            up = f"\x1b[{self._drawn_lines}F" if self._drawn_lines else ""
            self._stream.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
            self._drawn_lines = len(lines)
        else:
            self._stream.write(self.render_plain() + "\n")
        self._stream.flush()

    async def _redraw(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.draw()

    def start(self) -> None:
        self._started = time.monotonic()
        if self._task is None:
            self._task = asyncio.ensure_future(self._redraw())

    async def stop(self, *, draw: bool = True) -> None:
        """Stop redrawing and (unless `draw` is false) draw the final state once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if draw:
            self.draw()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
