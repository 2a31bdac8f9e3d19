"""Small server-side SVG charts: bars and sparklines, written as text.

Why not a chart library: the site must open from ``file://`` with no internet, weigh little and
print cleanly. Inline SVG needs no JavaScript, scales on paper, and carries its own accessible
name (``role="img"`` with ``<title>`` and ``<desc>``). Every label is escaped here, because the
result is marked safe for the templates.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

LEVEL_COLOURS = ["#b3261e", "#e8803a", "#e0b100", "#8bbf5a", "#3f8f3a", "#1f5c23"]
_ids = itertools.count(1)


def reset_ids() -> None:
    """Start element ids again at 1, so a page's markup is the same on every build."""
    global _ids
    _ids = itertools.count(1)


def _level_colour(value: float | None, maximum: float) -> str:
    if value is None:
        return "#9e9e9e"
    return LEVEL_COLOURS[max(0, min(5, int(round(value / maximum * 5))))]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _open(width: float, height: float, title: str, desc: str, css: str, role: str = "img") -> tuple[str, str]:
    """``role="img"`` makes the chart one picture to a screen reader; a chart holding links is a
    ``group`` instead, because an image's content is presentational and its links would be lost."""
    n = next(_ids)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="{css}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" role="{role}" aria-labelledby="t{n} d{n}">'
            f'<title id="t{n}">{escape(title)}</title><desc id="d{n}">{escape(desc)}</desc>')
    return head, "</svg>"


def bar_chart(items: Sequence[tuple[str, float | None, str | None]], *, title: str, desc: str = "",
              maximum: float = 5.0, width: int = 640, bar: int = 16, label_width: int = 170,
              colour_by_level: bool = True) -> Markup:
    """Horizontal bars, one per (label, value, link); a link makes the label clickable."""
    gap = 4
    height = len(items) * (bar + gap) + 24
    plot = width - label_width - 50
    role = "group" if any(href for _, _, href in items) else "img"
    head, tail = _open(width, height, title, desc or title, "chart bars", role)
    parts = [head]
    for i, (label, value, href) in enumerate(items):
        y = i * (bar + gap) + 4
        length = 0 if value is None else max(0.0, min(1.0, value / maximum)) * plot
        colour = _level_colour(value, maximum) if colour_by_level else "#2f6fa7"
        text = (f'<text x="{label_width - 6}" y="{y + bar - 4}" text-anchor="end">{escape(label)}</text>')
        if href:
            text = f'<a href="{escape(href)}">{text}</a>'
        parts.append(text)
        parts.append(f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar}" fill="{colour}">'
                     f'<title>{escape(label)}: {_fmt(value)}</title></rect>')
        parts.append(f'<text x="{label_width + length + 4:.1f}" y="{y + bar - 4}" class="value">{_fmt(value)}</text>')
    axis_y = len(items) * (bar + gap) + 6
    for tick in range(int(maximum) + 1):
        x = label_width + tick / maximum * plot
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{axis_y}" class="grid"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" class="tick">{tick}</text>')
    parts.append(tail)
    return Markup("".join(parts))


def column_chart(items: Sequence[tuple[str, int]], *, title: str, desc: str = "", width: int = 320,
                 height: int = 160) -> Markup:
    """Vertical columns with counts (the distribution of scores)."""
    top = max([v for _, v in items] + [1])
    head, tail = _open(width, height, title, desc or title, "chart columns")
    parts = [head]
    slot = (width - 20) / max(len(items), 1)
    plot = height - 40
    for i, (label, value) in enumerate(items):
        h = value / top * plot
        x = 10 + i * slot
        parts.append(f'<rect x="{x + 4:.1f}" y="{height - 22 - h:.1f}" width="{slot - 8:.1f}" height="{h:.1f}" '
                     f'fill="{LEVEL_COLOURS[min(5, i + 1)]}"><title>{escape(label)}: {value}</title></rect>'
                     f'<text x="{x + slot / 2:.1f}" y="{height - 26 - h:.1f}" text-anchor="middle">{value}</text>'
                     f'<text x="{x + slot / 2:.1f}" y="{height - 6}" text-anchor="middle" class="tick">'
                     f'{escape(label)}</text>')
    parts.append(tail)
    return Markup("".join(parts))


def sparkline(points: Sequence[tuple[str, float | None]], *, title: str, maximum: float = 5.0,
              width: int = 120, height: int = 28) -> Markup:
    """A small line across periods; one point is drawn as a dot (a trend needs two)."""
    known = [(label, v) for label, v in points if v is not None]
    desc = "; ".join(f"{label}: {_fmt(v)}" for label, v in points) or "ไม่มีข้อมูล / no data"
    head, tail = _open(width, height, title, desc, "chart spark")
    parts = [head]
    if known:
        step = (width - 8) / max(len(known) - 1, 1)
        coords = [(4 + i * step, height - 4 - (v / maximum) * (height - 8)) for i, (_, v) in enumerate(known)]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="#2f6fa7" stroke-width="1.5"/>')
        x, y = coords[-1]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#2f6fa7"/>')
    parts.append(tail)
    return Markup("".join(parts))
