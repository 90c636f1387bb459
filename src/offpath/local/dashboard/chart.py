"""A queue's counts over the last minutes as inline SVG (no chart library).

Pure: samples in, markup out. Colours come from the stylesheet (``.line-visible``
and friends), so the page needs no inline style and its CSP can forbid them.
"""

from __future__ import annotations

from collections.abc import Sequence

from offpath.local.dashboard.history import Sample
from offpath.local.dashboard.markup import h, span_text

WIDTH = 360
HEIGHT = 110
PAD_LEFT = 28  # room for the y-axis label
PAD_BOTTOM = 16  # room for the x-axis labels
MIN_SPAN_S = 60.0  # a fresh chart fills from the right over its first minute

SERIES = (
    ("visible", "waiting"),
    ("in_flight", "in flight"),
    ("delayed", "delayed"),
)


def nice_ceiling(value: int) -> int:
    """The y-axis top: 1, 2, 5, 10, 20, 50... at or above ``value``."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def queue_chart(samples: Sequence[Sample], *, now: float, window_s: float, title: str) -> str:
    """An SVG line chart of waiting, in-flight and delayed messages over time.

    The x axis spans from the first sample kept (at most ``window_s`` ago, at least
    a minute) to ``now``; the y axis from 0 to a round number above the peak.
    """
    kept = [s for s in samples if now - s.at <= window_s]
    span_s = max(MIN_SPAN_S, now - kept[0].at) if kept else MIN_SPAN_S
    peak = max((getattr(s.counts, key) for s in kept for key, _ in SERIES), default=0)
    top = nice_ceiling(max(1, peak))
    plot_w = WIDTH - PAD_LEFT
    plot_h = HEIGHT - PAD_BOTTOM

    def x(at: float) -> float:
        return PAD_LEFT + plot_w * (1 - (now - at) / span_s)

    def y(value: int) -> float:
        return plot_h * (1 - value / top)

    lines = []
    for key, _ in SERIES:
        points = " ".join(f"{x(s.at):.1f},{y(getattr(s.counts, key)):.1f}" for s in kept)
        if points:
            lines.append(
                f'<polyline class="line line-{key}" data-series="{key}" points="{points}"/>'
            )
    legend = " · ".join(label for _, label in SERIES)
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{h(title)}: {h(legend)} over the last {h(span_text(span_s))}" '
        f'data-samples="{len(kept)}">'
        f"<title>{h(title)}</title>"
        f'<line class="axis" x1="{PAD_LEFT}" y1="{plot_h}" x2="{WIDTH}" y2="{plot_h}"/>'
        f'<line class="grid" x1="{PAD_LEFT}" y1="0.5" x2="{WIDTH}" y2="0.5"/>'
        f'<text class="tick" x="{PAD_LEFT - 4}" y="9" text-anchor="end">{top}</text>'
        f'<text class="tick" x="{PAD_LEFT - 4}" y="{plot_h}" text-anchor="end">0</text>'
        f'<text class="tick" x="{PAD_LEFT}" y="{HEIGHT - 3}">-{h(span_text(span_s))}</text>'
        f'<text class="tick" x="{WIDTH}" y="{HEIGHT - 3}" text-anchor="end">now</text>'
        f"{''.join(lines)}</svg>"
    )


def legend() -> str:
    """The key to the chart's colours (one for the whole queues section)."""
    items = "".join(
        f'<li><span class="swatch swatch-{key}"></span>{h(label)}</li>' for key, label in SERIES
    )
    return f'<ul class="legend">{items}</ul>'
