"""Mes cotisations, Mon échéancier and their JSON API through the gateway, with the real accounts and
contributions services. The contributions service's day is fixed with ``CONTRIBUTIONS_TODAY``."""
from __future__ import annotations

import re

import pytest
import requests

from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.contributions.service import ContributionsService
from tests.support import factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def portal(container_factory, make_config):
    port = free_port()
    container_factory(GatewayService, make_config(None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
                                                  RPC_TIMEOUT=3)).start()
    accounts = make_config("accounts")
    contributions = make_config("contributions", CONTRIBUTIONS_TODAY="2026-01-01")
    for number, conventionne in (("1234567", True), ("7654321", False)):
        factories.add_member(accounts["DATABASE_URL"], number)
        factories.add_contributor(contributions["DATABASE_URL"], number, conventionne=conventionne)
    container_factory(AccountsService, accounts).start()
    container = container_factory(ContributionsService, contributions)
    container.start()

    def restart_contributions(today: str):
        container.stop()
        again = container_factory(ContributionsService, {**contributions, "CONTRIBUTIONS_TODAY": today})
        again.start()

    return f"http://127.0.0.1:{port}", restart_contributions


def login(base, file_number="1234567"):
    s = requests.Session()
    r = s.post(f"{base}/api/v1/session", json={"file_number": file_number, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return s


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def declare_and_wait(base, s):
    r = s.post(f"{base}/api/v1/declarations",
               json={"year": 2026, "professional_income": "40000", "conventioned_income": "40000"})
    assert r.status_code == 202, r.text
    wait_for(lambda: s.get(f"{base}/api/v1/schedules").json()["schedules"])


def test_contributions_and_schedule_api_are_member_scoped(portal):
    base, _ = portal
    assert requests.get(f"{base}/api/v1/schedules").status_code == 401
    assert requests.get(f"{base}/api/v1/contributions").status_code == 401
    s = login(base)
    declare_and_wait(base, s)

    items = s.get(f"{base}/api/v1/contributions").json()["items"]
    assert [(i["year"], i["total"], i["final"], i["changes"]) for i in items] == [(2026, "9126.00", True, None)]
    assert s.get(f"{base}/api/v1/contributions/2026").json()["total"] == "9126.00"
    assert s.get(f"{base}/api/v1/contributions/2025").status_code == 404

    view = s.get(f"{base}/api/v1/schedules").json()
    assert (view["up_to_date"], view["reason"], view["to_pay_now"]) == (True, "up_to_date", "0.00")
    year = view["schedules"][0]
    assert [i["amount"] for i in year["instalments"]] == ["760.50"] * 12
    assert year["status"]["reason"] == "nothing_due_yet"

    other = login(base, "7654321")
    assert other.get(f"{base}/api/v1/schedules/2026").status_code == 404
    assert other.put(f"{base}/api/v1/schedules/2026", json={"frequency": "monthly"}).status_code == 404
    assert other.get(f"{base}/api/v1/contributions/2026").status_code == 404
    assert other.get(f"{base}/api/v1/schedules").json()["schedules"] == []

    r = s.put(f"{base}/api/v1/schedules/2026", json={"frequency": "half_yearly"})
    assert r.status_code == 200, r.text
    assert [(i["due_date"], i["amount"]) for i in r.json()["instalments"]] == [
        ("2026-05-05", "4563.00"), ("2026-11-05", "4563.00")]
    r = s.put(f"{base}/api/v1/schedules/2026", json={"frequency": "weekly"})
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {
        "frequency": ["Choisissez un prélèvement mensuel, trimestriel ou semestriel."]}
    r = s.put(f"{base}/api/v1/schedules/2026", json={"frequency": "monthly", "extra": 1})
    assert r.status_code == 400 and "extra" in r.json()["error"]["fields"]

    r = s.put(f"{base}/api/v1/mandate", json={"iban": "FR76 3000 6000 0112 3456 7890 188", "holder": "C. Martin"})
    assert r.status_code == 400
    assert r.json()["error"]["fields"]["iban"] == [
        "Cet IBAN n'est pas valide : vérifiez-le sur votre relevé d'identité bancaire (RIB)."]
    r = s.put(f"{base}/api/v1/mandate", json={"iban": "FR7630006000011234567890189", "bic": "AGRIFRPP",
                                              "holder": "Claire Martin"})
    assert r.status_code == 200, r.text
    assert r.json()["mandate"]["iban"] == "FR76 **** **** **** **** ***0 189"
    assert "1234567890" not in s.get(f"{base}/api/v1/mandate").text
    assert other.get(f"{base}/api/v1/mandate").json() == {"mandate": None}


def test_pages_explain_contributions_schedule_and_arrears(portal):
    base, restart_contributions = portal
    s = login(base)
    page = s.get(f"{base}/cotisations")
    assert page.status_code == 200 and "Aucune cotisation" in page.text
    declare_and_wait(base, s)

    page = s.get(f"{base}/cotisations")
    assert page.status_code == 200
    for words in ("Cotisations 2026&nbsp;: 9\u202f126,00\u00a0€", "Montant définitif",
                  "Retraite de base, tranche 1&nbsp;: 8,73\u00a0%", "Avantage social vieillesse",
                  "Invalidité-décès", 'aria-current="page"'):
        assert words in page.text, words

    page = s.get(f"{base}/echeancier")
    assert page.status_code == 200
    assert "Vous êtes à jour de vos cotisations" in page.text
    assert page.text.count("760,50") == 12
    r = s.post(f"{base}/echeancier/2026/frequence", data={"frequency": "quarterly", "csrf_token": csrf(page.text)},
               allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/echeancier?fait=frequence"
    assert s.post(f"{base}/echeancier/2026/frequence", data={"frequency": "monthly"},
                  allow_redirects=False).status_code == 403  # no CSRF token
    page = s.get(f"{base}/echeancier?fait=frequence")
    assert "seules les échéances à venir" in page.text and page.text.count("2\u202f281,50") == 4

    r = s.post(f"{base}/echeancier/mandat", data={"iban": "FR76 1234", "bic": "", "holder": "",
                                                  "csrf_token": csrf(page.text)})
    assert r.status_code == 400
    assert "Cet IBAN n&#39;est pas valide : vérifiez-le" in r.text and "Ce champ est obligatoire." in r.text
    assert 'id="bic-error"' not in r.text  # an empty BIC is not an error when the IBAN is the problem

    # a new declaration (50 000): what changed since the last call, and why
    r = s.post(f"{base}/api/v1/declarations",
               json={"year": 2026, "professional_income": "50000", "conventioned_income": "50000"})
    assert r.status_code == 202
    wait_for(lambda: s.get(f"{base}/api/v1/contributions").json()["items"][0]["total"] == "10926.64")
    page = s.get(f"{base}/cotisations")
    assert "vos cotisations augmentent de 1\u202f800,64\u00a0€" in page.text
    assert "le revenu retenu est passé de 40\u202f000,00\u00a0€ à 50\u202f000,00\u00a0€" in page.text

    # on 20 March nothing has been paid: January to March are late (5 % + 0,2 % per started month):
    # 10 926,64 quarterly from 1 January = 2 731,66 x 4; only February's (due 5 Feb) is late: 2 started months,
    # 5,4 % x 2 731,66 = 147,50964 -> 147,51; to pay now 2 879,17
    restart_contributions("2026-03-20")
    view = s.get(f"{base}/api/v1/schedules").json()
    assert (view["up_to_date"], view["reason"], view["to_pay_now"]) == (False, "arrears", "2879.17")
    page = s.get(f"{base}/echeancier")
    assert "vous n'êtes pas à jour de vos cotisations" in page.text
    assert "91<sup>e</sup> jour" in page.text
    assert "réglez <strong>2\u202f879,17\u00a0€</strong>" in page.text


def test_out_of_range_years_and_odd_mandate_holders_are_clean_errors(portal):
    base, _ = portal
    assert requests.get(f"{base}/api/v1/schedules/99999999999999999999").status_code == 401
    s = login(base)
    for path in ("/api/v1/schedules/99999999999999999999", "/api/v1/contributions/99999999999999999999",
                 "/api/v1/schedules/1999"):
        r = s.get(f"{base}{path}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    r = s.put(f"{base}/api/v1/schedules/99999999999999999999", json={"frequency": "monthly"})
    assert r.status_code == 404
    r = s.put(f"{base}/api/v1/mandate", json={"iban": "FR7630006000011234567890189", "holder": "Claire\x00Martin"})
    assert r.status_code == 400 and "holder" in r.json()["error"]["fields"]
