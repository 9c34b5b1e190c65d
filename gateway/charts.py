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


# -- career record (issue #6): quarters and base points per year ----------------------------------------------------

CAREER_HEIGHT = 360
PANEL_GAP = 40


def quarters_and_points(years: list[dict], title_id: str = "career-chart-title",
                        desc_id: str = "career-chart-desc") -> Markup:
    """Two panels sharing the years: quarters validated (solid bars, 0 to 4) above, base-scheme points (hatched
    bars) below; every bar carries its figure and a provisional year is marked "(prov.)" under its label, so
    nothing is told by colour alone. The page shows the same figures as a table."""
    plot_w = WIDTH - LEFT - RIGHT
    panel_h = (CAREER_HEIGHT - TOP - BOTTOM - PANEL_GAP) / 2
    slot = plot_w / max(len(years), 1)
    bar = min(40.0, slot * 0.5)
    crowded = slot < 40  # more than a dozen years: labels on every bar would overlap
    top_points = _nice_max(max((Decimal(y["rb_points"]) for y in years), default=Decimal(0)))
    desc = "; ".join(
        f"{y['year']}{' (provisoire)' if y['status'] == 'provisional' else ''} : {y['quarters']} trimestre(s), "
        f"{_points_text(y['rb_points'])} points de base" for y in years) or "Aucune année."
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {CAREER_HEIGHT}" role="img" '
           f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg" '
           f'font-family="system-ui, Arial, sans-serif" font-size="12">',
           f'<title id="{title_id}">Trimestres validés et points du régime de base par année</title>',
           f'<desc id="{desc_id}">{escape(desc)}</desc>',
           '<defs><pattern id="hatch-points" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
           f'<line x1="0" y1="0" x2="0" y2="6" stroke="{CONTRIB_INK}" stroke-width="3"/></pattern></defs>']
    panels = ((TOP, Decimal(4), "quarters", INCOME_FILL, INCOME_FILL, "Trimestres", lambda v: str(int(v))),
              (TOP + panel_h + PANEL_GAP, top_points, "rb_points", "url(#hatch-points)", CONTRIB_INK,
               "Points de base", _points_text))
    for top, scale, key, fill, stroke, heading, label in panels:
        bottom = top + panel_h
        out.append(f'<text x="{LEFT}" y="{top - 8:.1f}" font-weight="bold" fill="#1d1d1b">{heading}</text>')
        for i in range(5):
            v = scale * i / 4
            gy = bottom - float(v / scale) * panel_h if scale else bottom
            out.append(f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" '
                       f'stroke="#c4ccd6" stroke-width="1"/>')
            out.append(f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" fill="#1d1d1b">'
                       f'{escape(label(v))}</text>')
        for index, y in enumerate(years):
            value = Decimal(str(y[key]))
            x = LEFT + slot * index + slot / 2 - bar / 2
            height = float(value / scale) * panel_h if scale else 0.0
            out.append(f'<rect x="{x:.1f}" y="{bottom - height:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                       f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"><title>{y["year"]}, '
                       f'{heading.lower()} : {escape(label(value))}</title></rect>')
            if crowded:  # the figure stays in the bar's <title>, the description and the table
                continue
            out.append(f'<text x="{x + bar / 2:.1f}" y="{bottom - height - 5:.1f}" text-anchor="middle" '
                       f'fill="#1d1d1b">{escape(label(value))}</text>')
        out.append(f'<line x1="{LEFT}" y1="{bottom:.1f}" x2="{WIDTH - RIGHT}" y2="{bottom:.1f}" '
                   f'stroke="#1d1d1b" stroke-width="1.5"/>')
    for index, y in enumerate(years):
        if crowded and index % 5 and index != len(years) - 1:
            continue  # a long career: one year label in five
        cx = LEFT + slot * index + slot / 2
        out.append(f'<text x="{cx:.1f}" y="{CAREER_HEIGHT - BOTTOM + 18}" text-anchor="middle" '
                   f'font-weight="bold" fill="#1d1d1b">{y["year"]}</text>')
        if y["status"] == "provisional":
            out.append(f'<text x="{cx:.1f}" y="{CAREER_HEIGHT - BOTTOM + 32}" text-anchor="middle" '
                       f'fill="#1d1d1b">(prov.)</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _points_text(value) -> str:
    """Points in French: 441.12 → "441,12", 500 → "500"."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    text = f"{amount:f}"
    if text.endswith(".00"):
        text = text[:-3]
    return text.replace(".", ",")


CAREER_LEGEND = Markup(
    '<ul class="chart-legend">'
    '<li><svg width="18" height="14" aria-hidden="true" focusable="false"><rect width="18" height="14" '
    f'fill="{INCOME_FILL}"/></svg> Trimestres validés (barre pleine, en haut)</li>'
    '<li><svg width="18" height="14" aria-hidden="true" focusable="false"><defs><pattern id="hatch-pl" '
    'width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="6" height="6" fill="#ffffff"/>'
    f'<line x1="0" y1="0" x2="0" y2="6" stroke="{CONTRIB_INK}" stroke-width="3"/></pattern></defs>'
    f'<rect width="18" height="14" fill="url(#hatch-pl)" stroke="{CONTRIB_INK}"/></svg> '
    'Points du régime de base (barre hachurée, en bas)</li></ul>')
