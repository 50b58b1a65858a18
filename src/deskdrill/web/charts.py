"""Small SVG charts drawn on the server: no script, no external files, so a report saved
to disk shows the same in any browser, offline. Every chart names itself for screen
readers and carries its numbers as text."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

_FONT = 'font-family="Noto Sans CJK SC, Noto Sans, sans-serif" font-size="11"'


def _frame(title: str, width: int, height: int, body: str) -> Markup:
    label = escape(title)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {_FONT}>'
        f"<title>{label}</title>{body}</svg>"
    )


def line(
    title: str, points: Sequence[tuple[str, float]], *, width: int = 640, height: int = 220
) -> Markup:
    """A line over labelled x positions (such as simulated times)."""
    left, right, top, bottom = 40, 10, 10, 30
    if not points:
        return _frame(title, width, height, f'<text x="{left}" y="{height // 2}">–</text>')
    peak = max(max(v for _, v in points), 1)
    span_x = max(len(points) - 1, 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / span_x, top + plot_h * (1 - v / peak)

    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, (_, v) in enumerate(points)))
    ticks = sorted({0, len(points) // 2, len(points) - 1})
    anchors = {0: "start", len(points) - 1: "end"}
    labels = "".join(
        f'<text x="{xy(i, 0)[0]:.1f}" y="{height - 10}" '
        f'text-anchor="{anchors.get(i, "middle")}">{escape(points[i][0])}</text>'
        for i in ticks
    )
    body = (
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#999"/>'
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{peak:g}</text>'
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>'
        f'<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{path}"/>{labels}'
    )
    return _frame(title, width, height, body)


def bars(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    top_value: float | None = None,
    unit: str = "",
    width: int = 640,
    color: str = "#16a34a",
) -> Markup:
    """Horizontal bars with their values written at the end."""
    row, left = 22, 170
    height = max(row * len(items) + 10, 30)
    peak = top_value or max([v for _, v in items] + [1])
    plot_w = width - left - 70
    body = ""
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        w = max(0.0, plot_w * min(value, peak) / peak)
        body += (
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label[:28])}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{color}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 14}">{value:g}{escape(unit)}</text>'
        )
    return _frame(title, width, height, body)


def against_targets(
    title: str,
    items: Sequence[tuple[str, float | None, float]],
    *,
    unit: str = "",
    width: int = 640,
    legend: tuple[str, str, str] = ("within target", "over target", "target"),
) -> Markup:
    """One bar per item (its value), a black mark at its target; over target in red. An
    item without a value (not yet answered) shows its label and a dash."""
    row, left, top = 22, 110, 22
    height = max(row * len(items) + top + 10, 50)
    peak = max([max(v or 0, t) for _, v, t in items] + [1]) * 1.05
    plot_w = width - left - 80
    body = (
        f'<rect x="{left}" y="4" width="10" height="10" fill="#16a34a"/>'
        f'<text x="{left + 14}" y="13">{escape(legend[0])}</text>'
        f'<rect x="{left + 140}" y="4" width="10" height="10" fill="#dc2626"/>'
        f'<text x="{left + 154}" y="13">{escape(legend[1])}</text>'
        f'<rect x="{left + 280}" y="3" width="2" height="12" fill="#111"/>'
        f'<text x="{left + 288}" y="13">{escape(legend[2])}</text>'
    )
    for i, (label, value, target) in enumerate(items):
        y = top + i * row
        mark = left + plot_w * target / peak
        body += f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label[:16])}</text>'
        if value is None:
            body += f'<text x="{left + 4}" y="{y + 14}">–</text>'
        else:
            w = max(1.0, plot_w * value / peak)
            color = "#16a34a" if value <= target else "#dc2626"
            body += (
                f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{color}"/>'
                f'<text x="{left + max(w, mark - left) + 6:.1f}" y="{y + 14}">'
                f"{value:.0f}{escape(unit)} / {target:.0f}{escape(unit)}</text>"
            )
        body += f'<rect x="{mark:.1f}" y="{y + 1}" width="2" height="{row - 4}" fill="#111"/>'
    return _frame(title, width, height, body)
