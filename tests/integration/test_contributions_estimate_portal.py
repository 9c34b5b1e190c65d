"""Mes revenus > estimation of the current year, and Mes cotisations for each stage of the yearly cycle, through
the gateway with the real accounts and contributions services (the contributions day is 2026-01-01)."""
from __future__ import annotations

import html as html_lib
import re

import requests

from tests.integration.test_contributions_portal import csrf, login, portal  # noqa: F401 - fixture
from tests.support.waiting import wait_for


def text(page: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", page)).replace("\u00a0", " ").split())


def test_estimate_page_adjusts_the_call_and_mes_cotisations_explains_it(portal):
    base, _ = portal
    s = login(base, "7654321")
    page = s.get(f"{base}/revenus/estimation")
    assert page.status_code == 200
    assert page.text.count('<label for="month_') == 12 and "Janvier" in page.text
    assert "Majoration" not in page.text and "plus d'un tiers" in text(page.text)
    form = {"csrf_token": csrf(page.text), "year": "2026"}
    form.update({f"month_{m}": "2 000,00" for m in range(1, 13)})
    sent = s.post(f"{base}/revenus/estimation", data=form, allow_redirects=False)
    assert sent.status_code in (302, 303), sent.text
    done = text(s.get(f"{base}/revenus/estimation?fait=1").text)
    # 24 000 (not conventionné): T1 2 095,20; T2 448,80; RC floor 2 090,61; RID 1 022 -> 5 656,61
    assert "Votre estimation est enregistrée" in done and "5 656,61" in done and "24 000,00" in done
    mine = text(s.get(f"{base}/cotisations").text)
    assert "Appel ajusté" in mine and "estimation de revenus 2026" in mine
    api = s.get(f"{base}/api/v1/estimate").json()["estimate"]
    assert api["total"] == "24000.00" and api["call"]["basis"] == "estimate" and not api["locked"]


def test_estimate_form_errors_are_shown_next_to_the_month(portal):
    base, _ = portal
    s = login(base, "7654321")
    page = s.get(f"{base}/revenus/estimation")
    form = {"csrf_token": csrf(page.text), "year": "2026", "month_1": "abc", "month_2": "-5"}
    sent = s.post(f"{base}/revenus/estimation", data=form)
    assert sent.status_code == 400
    assert 'id="month_1-error"' in sent.text and 'id="month_2-error"' in sent.text
    assert "ne peut pas être négatif" in sent.text
    assert 'value="abc"' in sent.text  # what was typed is kept
    empty = s.post(f"{base}/revenus/estimation", data={"csrf_token": csrf(page.text), "year": "2026"})
    assert empty.status_code == 400 and "au moins un mois" in empty.text
    forged = s.post(f"{base}/revenus/estimation", data={"year": "2026", "month_1": "100"})
    assert forged.status_code == 403


def test_estimate_api_validates_and_locks_once_the_year_is_declared(portal):
    base, _ = portal
    assert requests.get(f"{base}/api/v1/estimate").status_code == 401
    s = login(base, "7654321")
    bad = s.put(f"{base}/api/v1/estimate", json={"year": 2026, "months": {"13": "100", "2": "1.001"}})
    assert bad.status_code == 400
    fields = bad.json()["error"]["fields"]
    assert fields["months.13"] == ["Le mois doit être compris entre 1 et 12."]
    assert fields["months.2"] == ["Deux décimales au plus."]
    past = s.put(f"{base}/api/v1/estimate", json={"year": 2025, "months": {"1": "100"}})
    assert past.status_code == 400 and past.json()["error"]["fields"]["year"] == [
        "Seule l'année en cours peut être estimée."]
    ok = s.put(f"{base}/api/v1/estimate", json={"year": 2026, "months": {"1": "3000", "2": "3500.50"}})
    assert ok.status_code == 200 and ok.json()["estimate"]["total"] == "6500.50"
    r = s.post(f"{base}/api/v1/declarations", json={"year": 2026, "professional_income": "50000",
                                                    "conventioned_income": None})
    assert r.status_code == 202
    wait_for(lambda: s.get(f"{base}/api/v1/estimate").json()["estimate"]["locked"])
    locked = s.put(f"{base}/api/v1/estimate", json={"year": 2026, "months": {"1": "3000"}})
    assert locked.status_code == 409
    # the real income (50 000) is far above the estimate (6 500,50): the surcharge is shown and explained
    year = wait_for(lambda: (lambda y: y if y["status"] == "regularised" else None)(
        s.get(f"{base}/api/v1/contributions/2026").json()))
    assert year["surcharge"] and any(l["scheme"] == "surcharge" for l in year["lines"])
    mine = text(s.get(f"{base}/cotisations").text)
    assert "Majoration pour estimation insuffisante" in mine and "plus d'un tiers" in mine
