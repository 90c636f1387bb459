"""Figures beside their baselines, as text for the terminal or Markdown for the docs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure and its baseline from the same run.

    ``ratio`` is offpath / baseline: above 1 means offpath costs more (for a
    throughput, that offpath is faster). ``show_ratio=False`` leaves it out where
    it would mean nothing (a baseline of next to nothing).
    """

    name: str
    value: float
    baseline: float | None
    unit: str
    digits: int = 1
    show_ratio: bool = True

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0 or not self.show_ratio:
            return None
        return self.value / self.baseline

    def cells(self) -> list[str]:
        ratio = self.ratio
        return [
            self.name,
            _number(self.value, self.digits),
            "-" if self.baseline is None else _number(self.baseline, self.digits),
            "-" if ratio is None else f"{ratio:.2f}",
            self.unit,
        ]


@dataclass
class Section:
    """What one benchmark measured, what it compared against, and what to know."""

    title: str
    baseline: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)  # raw figures for other tools (JSON)


HEADER = ["figure", "offpath", "baseline", "ratio", "unit"]


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def text(section: Section) -> str:
    rows = [HEADER, *(f.cells() for f in section.figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [f"== {section.title} ({section.seconds:.0f} s) ==", f"baseline: {section.baseline}"]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:4], widths[1:4], strict=True)]
        cells.append(row[4])
        lines.append("  ".join(cells))
    lines += section.details
    lines += [f"note: {note}" for note in section.notes]
    return "\n".join(lines)


def markdown(section: Section) -> str:
    lines = [f"### {section.title}", "", f"Baseline: {section.baseline}", ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|---|" + "---:|" * 3 + "---|")
    lines += ["| " + " | ".join(f.cells()) + " |" for f in section.figures]
    if section.details:
        lines += ["", "```", *section.details, "```"]
    lines += ["", *(f"- {note}" for note in section.notes)]
    return "\n".join(lines)
