"""Plain-text tables for summaries: right-aligned numbers, a rule under the header and above
each marked row (subtotals and totals)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = ["Table"]


@attrs.define
class Table:
    """Columns named up front; rows of preformatted cells; `render()` gives the text."""

    columns: Sequence[str]
    numeric: frozenset[str] = frozenset()
    _rows: list[tuple[list[str], bool]] = attrs.field(factory=list)

    def add(self, cells: Sequence[object], *, rule_above: bool = False) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self._rows.append(([str(cell) for cell in cells], rule_above))

    def render(self) -> str:
        widths = [len(name) for name in self.columns]
        for cells, _ in self._rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, cells, strict=True)]
        rule = "  ".join("-" * w for w in widths)
        lines = [self._line(list(self.columns), widths), rule]
        for cells, rule_above in self._rows:
            if rule_above:
                lines.append(rule)
            lines.append(self._line(cells, widths))
        return "\n".join(line.rstrip() for line in lines)

    def _line(self, cells: list[str], widths: list[int]) -> str:
        parts = []
        for name, cell, width in zip(self.columns, cells, widths, strict=True):
            parts.append(cell.rjust(width) if name in self.numeric else cell.ljust(width))
        return "  ".join(parts)
