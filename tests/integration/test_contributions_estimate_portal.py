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


def carpimko(amqp_uri, *args):
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CARPIMKO_AMQP_URI": amqp_uri, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


def test_formal_notice_then_payment_plan_are_impossible_to_miss_on_the_dashboard(portal, rabbit_config):
    base, restart_contributions = portal
    amqp = rabbit_config["AMQP_URI"]
    s = login(base)
    r = s.post(f"{base}/api/v1/declarations",
               json={"year": 2026, "professional_income": "40000", "conventioned_income": "40000"})
    assert r.status_code == 202
    wait_for(lambda: s.get(f"{base}/api/v1/schedules").json()["schedules"])
    # nothing paid by 20 April: 9 126 = 12 x 760,50; January 4 started months late (5,8 % -> 44,109 -> 44,11),
    # February 3 (5,6 % -> 42,588 -> 42,59), March 2 (5,4 % -> 41,067 -> 41,07), April 1 (5,2 % -> 39,546 ->
    # 39,55): 3 042,00 + 167,32 = 3 209,32
    restart_contributions("2026-04-20")
    refused = carpimko(amqp, "contributions", "notice", "1234567", "--year", "2025", "--sent-on", "2026-04-20",
                       "--by", "agent.martin")
    assert refused.returncode == 2 and "no schedule for 2025" in refused.stderr
    done = carpimko(amqp, "contributions", "notice", "1234567", "--year", "2026", "--sent-on", "2026-04-20",
                    "--by", "agent.martin")
    assert done.returncode == 0, done.stderr
    assert "3209.32 claimed" in done.stdout
    home = text(s.get(f"{base}/").text)
    assert "Une mise en demeure vous a été adressée le 20 avril 2026 pour vos cotisations 2026" in home
    assert "dans les 30 jours suivant la mise en demeure" in home and "91e jour" in home

    plan = carpimko(amqp, "contributions", "plan", "1234567", "--year", "2026", "--instalments", "4",
                    "--first-due", "2026-05-01", "--by", "agent.martin")
    assert plan.returncode == 0, plan.stderr
    # the same day, within 30 days of the notice, the monthly surcharge is the reduced 0,1 %: 5,4 % -> 41,07;
    # 5,3 % -> 40,3065 -> 40,31; 5,2 % -> 39,55; 5,1 % -> 38,7855 -> 38,79: 3 042,00 + 159,72 = 3 201,72 in 4
    assert "3201.72 in 4 monthly payment(s) (800.43, 800.43, 800.43, 800.43)" in plan.stdout
    view = s.get(f"{base}/api/v1/schedules").json()
    assert (view["up_to_date"], view["reason"]) == (False, "payment_plan")
    home = text(s.get(f"{base}/").text)
    assert "Vous avez un plan de paiement en cours pour vos cotisations 2026" in home
    assert "vous n'êtes pas « à jour » tant que le plan n'est pas soldé" in home
    page = text(s.get(f"{base}/echeancier").text)
    assert "Votre plan de paiement 2026 : 3 201,72 € en 4 mensualités" in page.replace("\u202f", " ")
    bad = carpimko(amqp, "contributions", "plan", "1234567", "--year", "2026", "--instalments", "99",
                   "--first-due", "2026-01-01", "--by", "agent.martin")
    assert bad.returncode == 2 and "instalments" in bad.stderr and "first_due" in bad.stderr
    plan_id = plan.stdout.split("payment plan ")[1].split()[0]
    cancelled = carpimko(amqp, "contributions", "plan-cancel", plan_id, "--by", "agent.martin")
    assert cancelled.returncode == 0, cancelled.stderr
    assert s.get(f"{base}/api/v1/schedules").json()["reason"] == "formal_notice"


def test_mes_cotisations_says_which_call_and_why_it_changed(portal):
    base, _ = portal
    s = login(base, "7654321")
    # 1 January 2026: 2025 income declared -> 2025 regularised, 2026 adjusted on it (8 742,00)
    r = s.post(f"{base}/api/v1/declarations", json={"year": 2025, "professional_income": "40000",
                                                    "conventioned_income": None})
    assert r.status_code == 202
    year = wait_for(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
        s.get(f"{base}/api/v1/contributions/2026")))
    assert (year["status"], year["basis"], year["income_year"], year["total"]) == ("adjusted", "income", 2025,
                                                                                  "8742.00")
    mine = text(s.get(f"{base}/cotisations").text)
    assert "Appel ajusté — calculé sur vos revenus 2025 (40 000,00 €)" in mine.replace("\u202f", " ")
    assert "Montant définitif (régularisation) — calculé sur vos revenus 2025" in mine
    # then an estimate of 24 000: 5 656,61, i.e. 3 085,39 less, and the reason is the basis
    ok = s.put(f"{base}/api/v1/estimate", json={"year": 2026, "months": {"1": "24000"}})
    assert ok.status_code == 200
    mine = text(s.get(f"{base}/cotisations").text).replace("\u202f", " ")
    assert "vos cotisations baissent de 3 085,39 €" in mine
    assert "cet appel est calculé sur votre estimation de revenus 2026 (le précédent sur vos revenus 2025)" \
        in mine
