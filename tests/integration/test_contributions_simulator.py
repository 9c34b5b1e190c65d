"""The public simulator over HTTP: gateway + contributions service (real broker), no login."""
from __future__ import annotations

import pytest
import requests

from gateway.service import GatewayService
from services.contributions.service import ContributionsService
from tests.support.smtp import free_port

URL = "/api/v1/simulations/contributions"


@pytest.fixture
def site(container_factory, make_config):
    port = free_port()
    container_factory(GatewayService, make_config(None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
                                                  RPC_TIMEOUT=3)).start()
    container_factory(ContributionsService, make_config("contributions")).start()
    return f"http://127.0.0.1:{port}"


def test_simulation_api_acceptance_example_without_login(site):
    r = requests.get(f"{site}{URL}", params={"year": "2026", "income": "40000",
                                             "conventioned_income": "40000"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {
        "year": 2026,
        "base": "40000.00",
        "lines": [
            {"scheme": "base_t1", "base": "40000.00", "rate": "8.73", "amount": "3492.00"},
            {"scheme": "base_t2", "base": "40000.00", "rate": "1.87", "amount": "748.00"},
            {"scheme": "complementary", "base": "40000.00", "rate": "8.70", "amount": "3480.00"},
            {"scheme": "asv", "base": "40000.00", "rate": "0.40", "amount": "384.00"},
            {"scheme": "invalidity_death", "base": "0.00", "rate": None, "amount": "1022.00"},
        ],
        "total": "9126.00",
    }


def test_simulation_api_start_of_activity(site):
    r = requests.get(f"{site}{URL}", params={"year": "2026", "income": "40000",
                                             "activity_start": "2026-02-10"}, timeout=10)
    assert r.status_code == 200, r.text
    assert (r.json()["base"], r.json()["total"]) == ("6848.55", "3838.56")


def test_simulation_api_errors_are_400_in_french_naming_each_field(site):
    r = requests.get(f"{site}{URL}", params={"year": "2019", "income": "-5",
                                             "activity_start": "10/02/2026"}, timeout=10)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == {
        "year": ["Choisissez une année proposée dans la liste."],
        "income": ["Le montant ne peut pas être négatif."],
        "activity_start": ["Saisissez une date au format AAAA-MM-JJ, par exemple 2026-03-15."],
    }


def test_simulation_api_missing_income_and_unknown_parameter(site):
    r = requests.get(f"{site}{URL}", params={"year": "2026"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"income": ["Ce champ est obligatoire."]}
    r = requests.get(f"{site}{URL}", params={"year": "2026", "income": "1", "incom": "2"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {"incom": ["Champ inconnu."]}


def test_simulation_api_year_before_affiliation(site):
    r = requests.get(f"{site}{URL}", params={"year": "2026", "income": "1000",
                                             "activity_start": "2026-12-01"}, timeout=10)
    assert r.status_code == 400
    assert "pas encore affilié" in r.json()["error"]["fields"]["activity_start"][0]


def test_simulator_page_is_public_and_explains_each_line(site):
    r = requests.get(f"{site}/simulateur", timeout=10)
    assert r.status_code == 200
    assert "Simulateur de cotisations" in r.text and "<form" in r.text
    r = requests.get(f"{site}/simulateur", params={"year": "2026", "income": "40 000",
                                                    "conventioned_income": "40000,00"}, timeout=10)
    assert r.status_code == 200, r.text
    text = r.text
    assert "Vos cotisations 2026&nbsp;: 9\u202f126,00\u00a0€" in text
    for words in ("Retraite de base, tranche 1", "Retraite de base, tranche 2", "Retraite complémentaire",
                  "Avantage social vieillesse", "Invalidité-décès", "3\u202f492,00", "748,00",
                  "3\u202f480,00", "384,00", "1\u202f022,00", "760,50"):
        assert words in text, words
    assert "<script" not in text and "style=" not in text
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]


def test_simulator_page_flat_base_and_errors(site):
    r = requests.get(f"{site}/simulateur", params={"year": "2026", "income": "40000",
                                                    "activity_start": "2026-02-10"}, timeout=10)
    assert r.status_code == 200
    assert "1er avril 2026" in r.text or "1 avril 2026" in r.text
    assert "19&nbsp;% du plafond" in r.text and "3 trimestres sur 4" in r.text
    r = requests.get(f"{site}/simulateur", params={"year": "2026", "income": "beaucoup"}, timeout=10)
    assert r.status_code == 400
    assert "Saisissez un montant en euros" in r.text
    assert 'aria-invalid="true"' in r.text
