"""The "Ma carrière" page and its chart, rendered from the shapes the contributions service answers."""
import re
from html import unescape

from gateway import charts, web

YEARS = [
    {"year": 2024, "status": "final", "provisional_reasons": [], "stage": "regularised", "call": None,
     "income": "40000.00", "income_declared": True,
     "contributions_called": "9000.00", "contributions_paid": "9000.00", "quarters": 4, "rb_points": "557.21",
     "rc_points": "10.16", "asv_points": "0.00", "income_quarters": 4, "income_rb_points": "457.21",
     "credits": [{"id": "c1", "kind": "maternity", "year": 2024, "childbirth_date": "2024-03-14", "months": None,
                  "recorded_by": "advisor", "recorded_at": "2026-11-01T10:00:00+00:00"}],
     "flag": None},
    {"year": 2026, "status": "provisional", "provisional_reasons": ["year_not_over", "under_review"],
     "stage": "regularised", "call": None,
     "income": "5346.00", "income_declared": True, "contributions_called": "3000.00", "contributions_paid": "0.00",
     "quarters": 3, "rb_points": "58.96", "rc_points": "3.67", "asv_points": "0.00", "income_quarters": 3,
     "income_rb_points": "58.96", "credits": [],
     "flag": {"flag_id": "f1", "status": "under_review", "comment": "x", "flagged_at": "2026-11-20T10:00:00+00:00",
              "thread_id": None, "outcome": None, "resolved_at": None}},
]

ESTIMATE_ROW = {"label": "legal", "start": "2044-02-01", "age_years": 64, "age_months": 0, "quarters": 150,
                "missing_quarters": 12, "reduction_percent": "15.00", "rb_points": "9000.00", "rc_points": "100.00",
                "asv_points": "0.00", "rb_monthly": "420.75", "rc_monthly": "180.17", "asv_monthly": "0.00",
                "monthly": "600.92"}


def estimate(what_if=None):
    return {"birth_date": "1980-01-15", "legal_age": {"years": 64, "months": 0, "date": "2044-01-15", "source": "S"},
            "legal_start": "2044-02-01", "quarters_needed": 172, "quarters_recorded": 4,
            "quarters_provisional": 3, "provisional_years": [2026],
            "automatic_full_rate_date": "2047-01-15", "automatic_start": "2047-02-01",
            "current": {"full_rate_date": "2047-02-01", "future_income": "40000.00", "projected_from": 2027,
                        "estimates": [ESTIMATE_ROW, {**ESTIMATE_ROW, "label": "automatic", "start": "2047-02-01"}]},
            "assumptions": [{"code": "future_income", "value": "40000.00", "source": "A", "basis": "declared",
                             "income_year": 2024},
                            {"code": "only_this_fund", "source": "A"}],
            "what_if": what_if}


def test_chart_tells_nothing_by_colour_alone():
    svg = str(charts.quarters_and_points(YEARS))
    assert svg.startswith('<svg class="chart"') and svg.endswith("</svg>") and 'role="img"' in svg
    assert "2024 : 4 trimestre(s), 557,21 points de base" in svg
    assert "2026 (provisoire) : 3 trimestre(s), 58,96 points de base" in svg
    assert svg.count('fill="url(#hatch-points)"') == 2  # the points bars are hatched
    assert ">(prov.)<" in svg and ">557,21<" in svg and ">4<" in svg
    assert "style=" not in svg and "<script" not in svg
    assert str(charts.quarters_and_points([])).count("<rect") == 1  # only the pattern's


def render(what_if=None, **extra):
    record = {"file_number": "1234567", "as_of": "2026-11-28", "conventionne": False, "years": YEARS,
              "totals": {"years": [2024], "quarters": 4, "rb_points": "557.21", "rc_points": "10.16",
                         "asv_points": "0.00"},
              "provisional_totals": {"years": [2026], "quarters": 3, "rb_points": "58.96", "rc_points": "3.67",
                                     "asv_points": "0.00"}}
    context = dict(record=record, estimate=estimate(what_if), chart=charts.quarters_and_points(YEARS),
                   legend=charts.CAREER_LEGEND, values={}, errors={}, flag_errors={}, flag_values={}, notice=None,
                   member={"full_name": "Mme Anne DURAND", "file_number": "1234567", "status": "active"},
                   csrf_token="tok")
    context.update(extra)
    response = web.render("career/career.html", **context)
    return response.get_data(as_text=True)


def _text(html: str) -> str:
    """The page's text, tags removed and every space (no-break ones included) as one plain space."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ").replace("\u00a0", " ").split())


def test_page_renders_the_record_estimate_and_forms():
    html = render()
    assert "<h1>Ma carrière</h1>" in html and 'href="/ma-carriere" aria-current="page"' in html
    assert "Provisoire (année en cours ; en cours de vérification à votre demande)" in html
    assert "Maternité (naissance le 14 mars 2024) : 100 points de base ajoutés." in html
    assert "en cours de vérification depuis le" in html  # 2026 is under review: no form
    assert 'action="/ma-carriere/2024/signaler"' in html and 'action="/ma-carriere/2026/signaler"' not in html
    assert 'label for="comment-2024"' in html and 'href="/messages"' in html
    assert "64 ans" in html and "172 trimestres" in html and "−15&nbsp;% sur la base (12 trimestre(s) manquant(s))" in html
    assert "600,92" in html and "Seuls les trimestres et points acquis à la Carpimko" in html
    assert 'action="/ma-carriere/releve"' in html and "<script" not in html
    assert "Ce qui change" not in html
    # final years and provisional ones apart, in the table and in the estimate
    text = _text(html)
    assert "Total des années définitives 4 557,21 10,16 0" in text
    assert "Années provisoires (2026), à part 3 58,96 3,67 0" in text
    assert "en compte 4 définitifs, plus 3 provisoires (2026)" in text
    assert "un revenu de 40 000,00 € par an (votre dernier revenu déclaré, celui de 2024)" in text


def test_a_year_only_called_shows_the_calls_income_apart_and_is_projected():
    called = {**YEARS[0], "year": 2025, "status": "provisional", "provisional_reasons": ["not_regularised"],
              "stage": "adjusted", "income": None, "income_declared": False, "credits": [],
              "call": {"stage": "adjusted", "basis": "income", "income_year": 2024, "income": "40000.00"}}
    no_income = {**called, "year": 2026, "stage": "provisional",
                 "call": {"stage": "provisional", "basis": "no_income", "income_year": 2024, "income": "240300.00"}}
    est = estimate({"questions": {"future_income": "60000.00"}, "full_rate_date": "2047-02-01",
                    "future_income": "60000.00", "projected_from": 2025, "estimates": [ESTIMATE_ROW],
                    "changes": [{"code": "future_income", "current": "40000.00", "what_if": "60000.00"}]})
    est["assumptions"].append({"code": "provisional_years_projected", "years": [2025, 2026], "source": "A"})
    html = render(estimate=est, record={"years": [YEARS[0], called, no_income], "totals": {
        "years": [2024], "quarters": 4, "rb_points": "557.21", "rc_points": "10.16", "asv_points": "0.00"},
        "provisional_totals": {"years": [2025, 2026], "quarters": 8, "rb_points": "1000.00", "rc_points": "20.00",
                               "asv_points": "0.00"}})
    text = _text(html)
    assert "appel ajusté sur vos revenus 2024 : 40 000,00 € (pas vos revenus 2025)" in text
    assert "appel provisionnel sur cinq plafonds (revenus 2024 non déclarés) (pas vos revenus 2026)" in text
    assert "Années provisoires (2025, 2026), à part" in text
    assert ("2025, 2026 : années seulement appelées, pas encore régularisées sur vos revenus : comptées comme les "
            "années à venir, sur le revenu ci-dessus (et non sur le revenu de l'appel)") in text
    assert "Revenu annuel à venir (et de 2025, 2026) : 60 000,00 € au lieu de 40 000,00 €" in text


def test_what_if_result_and_explanation():
    what_if = {"questions": {"break_from": 2027, "break_to": 2028}, "full_rate_date": "2047-02-01",
               "future_income": "40000.00", "projected_from": 2027,
               "estimates": [{**ESTIMATE_ROW, "quarters": 142, "monthly": "570.00"}],
               "changes": [{"code": "quarters", "label": "legal", "current": 150, "what_if": 142, "difference": -8},
                           {"code": "monthly", "label": "legal", "current": "600.92", "what_if": "570.00",
                            "difference": "-30.92"}]}
    html = render(what_if)
    assert "Avec vos hypothèses" in html
    assert "À l'âge légal : 142 trimestres au lieu de 150." in unescape(html)
    assert "30,92\u00a0€ de moins" in html


def test_form_errors_are_tied_to_their_fields():
    html = render(errors={"break_to": "Indiquez la première et la dernière année de l'interruption."},
                  flag_errors={2024: "Expliquez en quelques mots ce qui vous paraît inexact."})
    assert 'aria-invalid="true" aria-describedby="break_to-error"' in html
    assert 'id="comment-2024-error"' in html and "<details id=\"signaler-2024\" open>" in html


def test_a_long_career_keeps_the_chart_readable():
    years = [{**YEARS[0], "year": 1990 + i, "credits": []} for i in range(36)]
    svg = str(charts.quarters_and_points(years))
    assert svg.count("<rect ") == 1 + 72  # pattern + two bars a year, each with its <title>
    assert ">1990<" in svg and ">1995<" in svg and ">1991<" not in svg and ">2025<" in svg
    assert ">557,21<" not in svg and "2025 : 4 trimestre(s), 557,21 points de base" in svg


def test_no_estimate_possible_is_said():
    record = {"file_number": "1234567", "as_of": "2026-11-28", "conventionne": False, "years": [],
              "totals": {"quarters": 0, "rb_points": "0.00", "rc_points": "0.00", "asv_points": "0.00"}}
    html = web.render("career/career.html", record=record, estimate=None, estimate_problem="Contactez-nous.",
                      chart="", legend="", values={}, errors={}, flag_errors={}, flag_values={}, notice=None,
                      member={"full_name": "M. X", "file_number": "1234567", "status": "retired"},
                      csrf_token="t").get_data(as_text=True)
    assert "Contactez-nous." in html and "Et si" not in html and "Aucune année n'est encore enregistrée" in html
