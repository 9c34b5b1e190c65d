from decimal import Decimal

from gateway import charts


def declarations():
    return [
        {"year": 2025, "declared_at": "2026-05-20T09:30:00+00:00", "professional_income": "39800.00",
         "assessment": {"total": "8173.62"}},
        {"year": 2025, "declared_at": "2026-11-28T08:00:00+00:00", "professional_income": "42000.50",
         "assessment": None},
        {"year": 2024, "declared_at": "2025-05-20T09:30:00+00:00", "professional_income": "38250.00",
         "assessment": {"total": "7828.38"}},
    ]


def test_one_point_per_year_from_the_latest_declaration():
    points = charts.points_from_declarations(declarations())
    assert points == [charts.YearPoint(2024, Decimal("38250.00"), Decimal("7828.38")),
                      charts.YearPoint(2025, Decimal("42000.50"), None)]


def test_chart_is_labelled_patterned_and_scaled():
    points = [charts.YearPoint(2024, Decimal("38250.00"), Decimal("7828.38")),
              charts.YearPoint(2025, Decimal("42000.50"), None)]
    svg = str(charts.income_and_contributions(points))
    assert svg.startswith('<svg class="chart"') and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    # the description reads the figures; contributions not yet computed are said so
    assert ("2024 : revenus 38\u202f250,00\u00a0€, cotisations 7\u202f828,38\u00a0€; "
            "2025 : revenus 42\u202f000,50\u00a0€, cotisations en cours de calcul") in svg
    # the contributions bar is hatched, not told by colour alone, and every bar is labelled
    assert svg.count('fill="url(#hatch)"') == 1
    assert ">38,3\u202fk€<" in svg and ">7,8\u202fk€<" in svg and ">42\u202fk€<" in svg
    # axis top: 50 000 (next "nice" value above 42 000.50); the 42 000.50 bar is 84 % of it
    assert ">50\u202fk€<" in svg
    bar = next(part for part in svg.split("<rect ") if "2025, revenus" in part)
    assert 'height="193.2"' in bar  # 0.84001 × 230 px of plot
    assert "style=" not in svg and "<script" not in svg


def test_nice_max_and_short_labels():
    assert charts._nice_max(Decimal("42000.50")) == 50000
    assert charts._nice_max(Decimal("9126")) == 10000
    assert charts._nice_max(Decimal("1800")) == 2000
    assert charts._nice_max(Decimal("2300")) == Decimal("2500")
    assert charts._nice_max(Decimal("0")) == 1000
    assert charts._short(Decimal("800")) == "800\u202f€"
    assert charts._short(Decimal("9126.50")) == "9,1\u202fk€"
    assert charts._short(Decimal("40000")) == "40\u202fk€"
