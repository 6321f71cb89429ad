"""Server-rendered SVG trend charts (no JavaScript, no CDN): one line per KPI over the periods."""
from __future__ import annotations

from fractions import Fraction
from html import escape

from app.services.kpis import compute as kc
from app.services.kpis import counts as kpi_counts

WIDTH, HEIGHT = 360, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 24, 34


def trend(periods, level: str, area_id: int, *, as_of=None,
          plate_levels=kpi_counts.DEFAULT_PLATE_LEVELS) -> dict:
    """{kpi: [(period key, Figure)]} for one area over the given periods, oldest first."""
    out = {kpi: [] for kpi in kpi_counts.KPIS}
    for period in periods:
        figures = kc.compute(period, level, as_of=as_of, plate_levels=plate_levels)
        for kpi in kpi_counts.KPIS:
            out[kpi].append((period.key, figures[kpi].get(area_id, kpi_counts.Figure(0, 0))))
    return out


def trend_svg(title: str, points: list[tuple[str, "kpi_counts.Figure"]], target: int) -> str:
    """An SVG line chart of one KPI's rate per period, 0–100 %, gaps where there is no data."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(1, len(points) - 1)

    def y(percent: Fraction) -> float:
        return TOP + inner_h - float(percent) / 100 * inner_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<text x="{LEFT}" y="15" font-size="12">{escape(title)}</text>']
    for pct in (0, 50, 100):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(pct):.1f}" y2="{y(pct):.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y(pct) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{pct}%</text>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(target):.1f}" '
                 f'y2="{y(target):.1f}" stroke="#c00" stroke-dasharray="4 3"/>')
    segment: list[str] = []
    segments = []
    for i, (key, figure) in enumerate(points):
        x = LEFT + i * step
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 18}" font-size="9" '
                     f'text-anchor="middle">{escape(key[2:])}</text>')
        rate = figure.rate
        if rate is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        py = y(rate * 100)
        segment.append(f"{x:.1f},{py:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{py:.1f}" r="3" fill="#0d6efd">'
                     f'<title>{escape(key)} {kc.percent_text(rate)} '
                     f'({figure.numerator}/{figure.denominator})</title></circle>')
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(f'<polyline fill="none" stroke="#0d6efd" stroke-width="2" '
                         f'points="{" ".join(seg)}"/>')
    parts.append("</svg>")
    return "".join(parts)
