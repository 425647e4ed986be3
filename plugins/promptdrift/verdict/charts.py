"""The report's charts as small inline SVG: no library, no network, readable without JavaScript.

:func:`forest` draws paired differences with their 95 % intervals (one line per comparison, zero
marked, the detectable drop shaded); :func:`bars` draws one value per variant (pass rate, cost,
latency of a decision matrix). Both return an ``<svg>`` element as text, every label escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

ROW, LABEL, PLOT, NOTE = 26, 260, 360, 230  # row height; widths of the label, plot and note columns
RED, GREEN, GREY, INK = "#cf222e", "#1a7f37", "#8c959f", "#1f2328"


@dataclass(frozen=True)
class ForestRow:
    """One comparison: its label, the mean difference and interval (in points) and the detectable drop."""

    label: str
    diff: float
    low: float
    high: float
    detectable: float | None  # in points, positive; None when the comparison cannot say
    verdict: str


def _extent(rows: Sequence[ForestRow]) -> float:
    """Half the plot's width in points: every interval and drop fits, at least 10 points."""
    values = [abs(v) for r in rows for v in (r.low, r.high, r.diff, r.detectable or 0.0) if v == v]
    return max(10.0, min(100.0, max(values, default=0.0) * 1.1))


def forest(rows: Sequence[ForestRow], chart: str = "paired", title: str = "") -> str:
    """A forest plot: each row's interval as a line, its difference as a dot, zero as a vertical rule."""
    e = html.escape
    extent = _extent(rows)
    height = ROW * len(rows) + 34
    width = LABEL + PLOT + NOTE

    def x(points: float) -> float:
        return round(LABEL + (max(-extent, min(extent, points)) + extent) / (2 * extent) * PLOT, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{e(chart)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="system-ui,sans-serif" font-size="12">',
        f"<title>{e(title or 'paired differences with 95% intervals')}</title>",
    ]
    top, bottom = 6, height - 28
    for i, row in enumerate(rows):
        y = top + ROW * i + ROW / 2
        if row.detectable is not None and row.detectable == row.detectable:
            parts.append(
                f'<rect data-detectable="{row.detectable:.1f}" x="{x(-row.detectable)}" y="{y - 9:.1f}" '
                f'width="{x(0) - x(-row.detectable):.1f}" height="18" fill="#eaeef2"/>'
            )
        colour = RED if row.verdict == "significant drop" else GREEN if row.verdict == "significant rise" else INK
        parts.append(
            f'<g data-row="{e(row.label)}" data-verdict="{e(row.verdict)}">'
            f'<text x="{LABEL - 8}" y="{y + 4:.1f}" text-anchor="end">{e(_short(row.label, 40))}</text>'
            f'<line x1="{x(row.low)}" x2="{x(row.high)}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>'
            f'<circle cx="{x(row.diff)}" cy="{y:.1f}" r="4" fill="{colour}"/>'
            f'<text x="{LABEL + PLOT + 8}" y="{y + 4:.1f}">{row.diff:+.1f} [{row.low:+.1f}, {row.high:+.1f}] '
            f"{e(row.verdict)}</text></g>"
        )
    parts.append(f'<line data-zero="" x1="{x(0)}" x2="{x(0)}" y1="{top}" y2="{bottom}" stroke="{GREY}"/>')
    for tick in (-extent, -extent / 2, extent / 2, extent):
        parts.append(f'<text x="{x(tick)}" y="{bottom + 14}" text-anchor="middle" fill="{GREY}">{tick:+.0f}</text>')
    parts.append(f'<text x="{x(0)}" y="{bottom + 14}" text-anchor="middle">0</text>')
    parts.append(
        f'<text x="{LABEL}" y="{bottom + 26}" fill="{GREY}">points of pass rate, after minus before; '
        "shaded: the drop this many cases can detect</text></svg>"
    )
    return "".join(parts)


def bars(values: Sequence[tuple[str, float | None, str]], chart: str, title: str) -> str:
    """One horizontal bar per ``(label, value, text)``, scaled to the largest value; a missing value has no bar."""
    e = html.escape
    most = max((v for _, v, _ in values if v is not None and v == v), default=0.0) or 1.0
    height = ROW * len(values) + 24
    width = 160 + 200 + 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{e(chart)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="system-ui,sans-serif" font-size="12">',
        f"<title>{e(title)}</title>",
        f'<text x="0" y="14" font-weight="600">{e(title)}</text>',
    ]
    for i, (label, value, text) in enumerate(values):
        y = 22 + ROW * i
        size = 0.0 if value is None or value != value else max(0.0, value) / most * 200
        parts.append(
            f'<g data-row="{e(label)}"><text x="152" y="{y + 13}" text-anchor="end">{e(_short(label, 24))}</text>'
            f'<rect x="160" y="{y + 2}" width="{size:.1f}" height="16" fill="#54aeff"/>'
            f'<text x="{160 + size + 6:.1f}" y="{y + 14}">{e(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
