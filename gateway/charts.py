"""Server-rendered inline SVG charts (no script, CSP-safe: presentation
attributes only, no ``style``).

``income_and_contributions(points)``: for each year, the declared income (solid
bar) and the contributions called (hatched bar), each labelled with its amount,
so the chart reads without colour; the page shows the same figures as a table.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from markupsafe import Markup

from .formatting import NBSP, euros

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 30, 40
INCOME_FILL = "#00467f"
CONTRIB_INK = "#8a3b00"


@dataclass(frozen=True)
class YearPoint:
    year: int
    income: Decimal | None
    contributions: Decimal | None


def points_from_declarations(declarations: list[dict]) -> list[YearPoint]:
    """One point per year: the latest declaration of the year and its current assessment."""
    latest: dict[int, dict] = {}
    for d in declarations:
        current = latest.get(d["year"])
        if current is None or (d.get("declared_at") or "") > (current.get("declared_at") or ""):
            latest[d["year"]] = d
    out = []
    for year in sorted(latest):
        d = latest[year]
        total = (d.get("assessment") or {}).get("total")
        income = d.get("professional_income")
        out.append(YearPoint(year, Decimal(income) if income not in (None, "") else None,
                             Decimal(total) if total not in (None, "") else None))
    return out


def _nice_max(value: Decimal) -> Decimal:
    """The axis' top: 1, 2, 2.5 or 5 × a power of ten, at least ``value``."""
    if value <= 0:
        return Decimal(1000)
    power = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _short(amount: Decimal) -> str:
    """40000 → "40 k€", 9126.5 → "9,1 k€", 800 → "800 €" (labels on the bars)."""
    if amount >= 1000:
        k = (amount / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        text = f"{k:f}".rstrip("0").rstrip(".").replace(".", ",")
        return f"{text}{NBSP}k€"
    return f"{int(amount)}{NBSP}€"


def income_and_contributions(points: list[YearPoint], title_id: str = "chart-title",
                             desc_id: str = "chart-desc") -> Markup:
    values = [v for p in points for v in (p.income, p.contributions) if v is not None]
    top = _nice_max(max(values, default=Decimal(0)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    bar = min(48.0, slot * 0.35)

    def y(v: Decimal) -> float:
        return TOP + plot_h - float(v / top) * plot_h

    desc = "; ".join(
        f"{p.year} : revenus {euros(p.income) if p.income is not None else 'non déclarés'}, "
        f"cotisations {euros(p.contributions) if p.contributions is not None else 'en cours de calcul'}"
        for p in points) or "Aucune donnée."
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg" '
           f'font-family="system-ui, Arial, sans-serif" font-size="12">',
           f'<title id="{title_id}">Revenus déclarés et cotisations par année</title>',
           f'<desc id="{desc_id}">{escape(desc)}</desc>',
           '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
           f'<line x1="0" y1="0" x2="0" y2="6" stroke="{CONTRIB_INK}" stroke-width="3"/>'
           '</pattern></defs>']
    for i in range(5):  # grid and axis labels
        v = top * i / 4
        gy = y(v)
        out.append(f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" '
                   f'stroke="#c4ccd6" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" fill="#1d1d1b">'
                   f'{escape(_short(v) if v else "0")}</text>')
    for i, p in enumerate(points):
        cx = LEFT + slot * i + slot / 2
        for value, x, fill, stroke, label in (
                (p.income, cx - bar - 2, INCOME_FILL, INCOME_FILL, "revenus"),
                (p.contributions, cx + 2, "url(#hatch)", CONTRIB_INK, "cotisations")):
            if value is None:
                continue
            top_y = y(value)
            out.append(f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{bar:.1f}" '
                       f'height="{TOP + plot_h - top_y:.1f}" fill="{fill}" stroke="{stroke}" '
                       f'stroke-width="1.5"><title>{p.year}, {label} : {escape(euros(value))}</title></rect>')
            out.append(f'<text x="{x + bar / 2:.1f}" y="{top_y - 5:.1f}" text-anchor="middle" '
                       f'fill="#1d1d1b">{escape(_short(value))}</text>')
        out.append(f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
                   f'font-weight="bold" fill="#1d1d1b">{p.year}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
               f'stroke="#1d1d1b" stroke-width="1.5"/>')
    out.append("</svg>")
    return Markup("".join(out))


LEGEND = Markup(
    '<ul class="chart-legend">'
    '<li><svg width="18" height="14" aria-hidden="true" focusable="false"><rect width="18" height="14" '
    f'fill="{INCOME_FILL}"/></svg> Revenus déclarés (barre pleine)</li>'
    '<li><svg width="18" height="14" aria-hidden="true" focusable="false"><defs><pattern id="hatch-l" '
    'width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="6" height="6" fill="#ffffff"/>'
    f'<line x1="0" y1="0" x2="0" y2="6" stroke="{CONTRIB_INK}" stroke-width="3"/></pattern></defs>'
    f'<rect width="18" height="14" fill="url(#hatch-l)" stroke="{CONTRIB_INK}"/></svg> '
    'Cotisations (barre hachurée)</li></ul>')
