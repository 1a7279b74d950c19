"""Small inline-SVG charts: bars and lines, with axes and a <title> per mark. Pure strings.

The page must open offline with everything inside it, so the charts are drawn here rather
than by a plotting library that would add JavaScript or a backend to the job image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 640, 260
MARGIN = {"left": 64, "right": 16, "top": 12, "bottom": 44}
PALETTE = ("#2f6db5", "#d9822b", "#3a9d5d", "#c23b3b", "#7a5cc2", "#8c6d31", "#1b9aaa", "#e377c2")


def _ticks(high: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `high`."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    return [i * step for i in range(math.ceil(high / step) + 1)]


def _fmt(value: float, unit: str = "") -> str:
    if unit == "%":
        return f"{value:.3g}%"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def _frame(label: str, body: list[str], legend: Sequence[tuple[str, str]] = ()) -> str:
    items = "".join(
        f'<span class="key"><i style="background:{color}"></i>{escape(name)}</span>'
        for name, color in legend
    )
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
        + (f'<div class="legend">{items}</div>' if legend else "")
    )


def _y_axis(ticks: list[float], scale: float, unit: str) -> list[str]:
    left, top = MARGIN["left"], MARGIN["top"]
    plot_h = HEIGHT - top - MARGIN["bottom"]
    out = []
    for t in ticks:
        y = top + plot_h - t * scale
        out.append(
            f'<line x1="{left}" x2="{WIDTH - MARGIN["right"]}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t, unit)}</text>'
        )
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 12))
    base = HEIGHT - MARGIN["bottom"] + 14
    return [
        f'<text x="{x:.1f}" y="{base}" text-anchor="middle">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % every == 0
    ]


def bars(
    label: str,
    categories: Sequence[str],
    values: Sequence[float],
    *,
    colors: Sequence[str] | None = None,
    unit: str = "",
    overlay: Sequence[float] | None = None,
    overlay_name: str = "",
    bar_name: str = "",
) -> str:
    """Vertical bars, one per category; `overlay` draws a line over them (e.g. a baseline)."""
    top_value = max([*values, *(overlay or []), 0.0])
    ticks = _ticks(top_value)
    plot_h = HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    plot_w = WIDTH - MARGIN["left"] - MARGIN["right"]
    scale = plot_h / ticks[-1]
    slot = plot_w / max(1, len(values))
    body = _y_axis(ticks, scale, unit)
    xs = []
    for i, (name, value) in enumerate(zip(categories, values, strict=True)):
        x = MARGIN["left"] + i * slot
        h = value * scale
        y = MARGIN["top"] + plot_h - h
        color = colors[i] if colors else PALETTE[0]
        body.append(
            f'<rect x="{x + slot * 0.1:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{escape(name)}: {_fmt(value, unit)}</title></rect>'
        )
        if len(values) <= 6:  # few bars: their values are worth printing
            body.append(
                f'<text x="{x + slot / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{_fmt(value, unit)}</text>'
            )
        xs.append(x + slot / 2)
    legend: list[tuple[str, str]] = []
    if overlay is not None:
        points = " ".join(
            f"{x:.1f},{MARGIN['top'] + plot_h - v * scale:.1f}"
            for x, v in zip(xs, overlay, strict=True)
        )
        body.append(f'<polyline points="{points}" fill="none" stroke="#222" stroke-width="2"/>')
        legend = [(bar_name, PALETTE[0]), (overlay_name, "#222")]
    body += _x_labels(categories, xs)
    return _frame(label, body, legend)


def hbars(
    label: str,
    categories: Sequence[str],
    values: Sequence[float],
    *,
    colors: Sequence[str] | None = None,
    unit: str = "",
    notes: Sequence[str] | None = None,
    scale_max: float = 0.0,
) -> str:
    """Horizontal bars: long category names on the left; `scale_max` fixes the full width."""
    left = 230
    row = (HEIGHT - 20) / max(1, len(values))
    top_value = max([*values, scale_max]) or 1.0
    width = WIDTH - left - 180
    body = []
    for i, (name, value) in enumerate(zip(categories, values, strict=True)):
        y = 10 + i * row
        w = value / top_value * width
        color = colors[i] if colors else PALETTE[0]
        note = notes[i] if notes else _fmt(value, unit)
        body.append(
            f'<text x="{left - 6}" y="{y + row * 0.65:.1f}" text-anchor="end">{escape(name[:34])}</text>'
            f'<rect x="{left}" y="{y + row * 0.12:.1f}" width="{max(w, 0.5):.1f}" height="{row * 0.76:.1f}" '
            f'fill="{color}"><title>{escape(name)}: {escape(note)}</title></rect>'
            f'<text x="{left + w + 4:.1f}" y="{y + row * 0.65:.1f}">{escape(note)}</text>'
        )
    return _frame(label, body)


def lines(
    label: str,
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    unit: str = "",
) -> str:
    """One line per series over the same x labels; None leaves a gap (a day not published)."""
    values = [v for s in series.values() for v in s if v is not None]
    ticks = _ticks(max([*values, 0.0]))
    plot_h = HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    plot_w = WIDTH - MARGIN["left"] - MARGIN["right"]
    scale = plot_h / ticks[-1]
    step = plot_w / max(1, len(x_labels) - 1)
    xs = [MARGIN["left"] + i * step for i in range(len(x_labels))]
    body = _y_axis(ticks, scale, unit)
    legend = []
    for (name, points), color in zip(series.items(), PALETTE * 4, strict=False):
        runs: list[list[str]] = [[]]
        for x, v in zip(xs, points, strict=True):
            if v is None:
                runs.append([])
                continue
            y = MARGIN["top"] + plot_h - v * scale
            runs[-1].append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(name)}: {_fmt(v, unit)}</title></circle>"
            )
        body += [
            f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"/>'
            for run in runs
            if len(run) > 1
        ]
        legend.append((name, color))
    body += _x_labels(x_labels, xs)
    return _frame(label, body, legend)
