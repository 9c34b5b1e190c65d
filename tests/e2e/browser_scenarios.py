"""The browser scenarios of ``test_portal_browser.py``, run in a child process.

Playwright's sync API and its timeouts do not work under eventlet's monkey
patching, which the test process needs for nameko; so each scenario runs here,
in a plain Python process: ``python -m tests.e2e.browser_scenarios NAME BASE_URL``
(exit code 0 when it passes, a traceback otherwise).
"""
from __future__ import annotations

import io
import os
import re
import sys
import traceback
from pathlib import Path

from playwright.sync_api import sync_playwright
from pypdf import PdfReader

from ops.demo_data import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
SCREENSHOTS = os.environ.get("CARPIMKO_SCREENSHOTS")


def accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe
    result = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


def check_page(page, label: str) -> None:
    """On every page: no serious accessibility violation, no CSP violation, and
    nothing wider than a 360 px phone."""
    problems = accessibility_problems(page)
    assert problems == [], f"{label}: {problems}"
    assert page.csp_errors == [], label
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(size)
    assert width <= PHONE["width"], f"{label}: {width} px wide at 360 px"


def shoot(page, name: str) -> None:
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "360px")):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(folder / f"{name}-{suffix}.png"), full_page=True)
    page.set_viewport_size(size)


def log_in(page, suite, file_number="1234567"):
    page.goto(f"{suite.url}/connexion")
    page.get_by_label("Numéro de dossier").fill(file_number)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{suite.url}/")


def scenario_member_journey_login_dashboard_declare_progress_download_logout(page, suite):
    # the login page, first with mistakes: French messages next to the fields
    page.goto(f"{suite.url}/connexion")
    check_page(page, "login")
    page.get_by_label("Numéro de dossier").fill("12")
    page.get_by_role("button", name="Se connecter").click()
    assert page.locator("#file_number-error").inner_text() == \
        "Le numéro de dossier comporte 7 ou 9 chiffres."
    assert page.locator("#password-error").inner_text() == "Ce champ est obligatoire."
    assert page.get_by_label("Numéro de dossier").get_attribute("aria-invalid") == "true"
    check_page(page, "login with errors")

    log_in(page, suite)
    header = page.locator("header").inner_text()
    assert "Claire MARTIN" in header and "1234567" in header
    footer = page.locator("footer").inner_text()
    assert "lundi au vendredi" in footer and "8 h 45 à 12 h 45" in footer.replace("\u00a0", " ")
    nav = page.get_by_role("navigation", name="Navigation principale")
    assert nav.get_by_role("link", name="Accueil").get_attribute("aria-current") == "page"
    assert page.get_by_role("heading", name="Ma dernière déclaration").is_visible()
    assert page.locator("svg.chart").count() == 1
    check_page(page, "dashboard")

    # declare, with a mistake first
    page.get_by_role("link", name="Déclarer mes revenus").first.click()
    check_page(page, "declare form")
    page.get_by_label("Année des revenus").select_option("2026")
    page.get_by_label("Revenus professionnels de l'année (en euros)").fill("quarante mille")
    page.get_by_role("button", name="Envoyer ma déclaration").click()
    assert "Saisissez un montant en euros" in page.locator("#professional_income-error").inner_text()
    check_page(page, "declare form with errors")
    page.get_by_label("Revenus professionnels de l'année (en euros)").fill("40000")
    page.get_by_label("Dont revenus conventionnés (en euros, facultatif)").fill("40000")
    page.get_by_role("button", name="Envoyer ma déclaration").click()
    page.wait_for_url(re.compile(r".*/revenus/declarations/[0-9a-f-]{36}$"))

    # the page updates itself (progress.js) until every step is done
    page.locator('#progress[data-complete="true"]').wait_for(timeout=60_000)
    steps = page.locator("ol.steps li")
    assert steps.count() == 4
    assert all(steps.nth(i).get_attribute("class") == "done" for i in range(4))
    assert "9 126,00" in page.locator("#progress").inner_text().replace("\u202f", " ")
    check_page(page, "declaration progress")
    shoot(page, "declaration")

    # download the statement
    link = page.get_by_role("link", name="Télécharger mon relevé de cotisations (PDF)")
    response = page.context.request.get(f"{suite.url}{link.get_attribute('href')}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    assert "1234567" in text

    page.goto(f"{suite.url}/")
    shoot(page, "dashboard")
    assert "2026" in page.locator("table.chart-table").inner_text()

    # log out: back to the login page, and the old session no longer works
    cookies = page.context.cookies()
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{suite.url}/connexion")
    page.context.add_cookies(cookies)
    page.goto(f"{suite.url}/")
    assert page.url == f"{suite.url}/connexion"


def scenario_keyboard_only_login_and_navigation(page, suite):
    page.goto(f"{suite.url}/connexion")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the brand link, then the form's fields
    while page.evaluate("document.activeElement.id") != "file_number":
        page.keyboard.press("Tab")
    page.keyboard.type("1234567")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{suite.url}/")
    # every focusable element shows a visible focus indicator
    for _ in range(6):
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", ""), page.evaluate("document.activeElement.outerHTML")


def scenario_error_pages_and_api_docs_are_accessible(page, suite):
    log_in(page, suite)
    response = page.goto(f"{suite.url}/cette-page-n-existe-pas")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page introuvable").is_visible()
    assert page.get_by_role("heading", name="Que faire ?").is_visible()
    check_page(page, "404")
    response = page.goto(f"{suite.url}/api/docs")
    assert response.status == 200
    assert page.get_by_role("heading", name="POST /api/v1/declarations").is_visible()
    check_page(page, "API docs")


def scenario_survivor_sees_no_declaration_entry(page, suite):
    log_in(page, suite, "123456789")
    nav = page.get_by_role("navigation", name="Navigation principale")
    assert nav.get_by_role("link", name="Mes revenus").count() == 0
    response = page.goto(f"{suite.url}/revenus/declarer")
    assert response.status == 403
    check_page(page, "403 survivor")


def scenario_career_page_what_if_flag_and_statement(page, suite):
    """Ma carrière (issue #6): the record, chart and estimate, a what-if, flagging a year, the statement PDF."""
    log_in(page, suite, "7654321")
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Ma carrière").click()
    page.wait_for_url(f"{suite.url}/ma-carriere")
    assert page.get_by_role("heading", name="Ma carrière", level=1).is_visible()
    assert page.locator("table.chart-table tbody tr").count() >= 1
    check_page(page, "career")
    shoot(page, "career")
    page.get_by_label("Première année sans activité").fill("2027")
    page.get_by_label("Dernière année sans activité").fill("2028")
    page.get_by_role("button", name="Calculer").click()
    assert page.get_by_role("heading", name="Ce qui change").is_visible()
    check_page(page, "career what-if")
    year = page.locator("table.chart-table tbody th[scope=row]").first.inner_text()
    page.get_by_text(f"Signaler une erreur sur {year}").click()
    page.get_by_label(f"Ce qui vous paraît inexact en {year}").fill("Une naissance manque cette année-là.")
    page.get_by_role("button", name=f"Signaler {year}").click()
    assert "en cours de vérification" in page.locator("p.notice").inner_text()
    page.get_by_role("button", name="Demander mon relevé de carrière").click()
    assert "en cours de préparation" in page.locator("p.notice").inner_text()
    check_page(page, "career flagged")
    page.goto(f"{suite.url}/documents")
    for _ in range(20):
        if page.get_by_text("Relevé de carrière").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert page.get_by_text("Relevé de carrière").count()
def scenario_member_messaging_read_reply_write_with_a_photo(page, suite):
    """Mes messages: the demo thread's unread reply, a new message with a photo."""
    import io

    from PIL import Image
    log_in(page, suite)
    block = page.locator("section[aria-labelledby=messages-title]")
    assert "message non lu" in block.inner_text()
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Mes messages").click()
    page.wait_for_url(f"{suite.url}/messages")
    check_page(page, "Mes messages")
    page.get_by_role("link", name="Arrêt de travail de mars").click()
    assert page.get_by_text("attestation de perte de revenus").is_visible()
    assert page.get_by_text("8 h 45 à 12 h 45").first.is_visible()
    check_page(page, "thread")
    shoot(page, "messaging-thread")
    page.goto(f"{suite.url}/messages/nouveau")
    check_page(page, "new message")
    page.get_by_label("Thème de votre demande").select_option("cotisations")
    page.get_by_label("Objet").fill("Justificatif de paiement")
    page.get_by_label("Votre message").fill("Voici la photo de mon virement.")
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, "JPEG")
    page.get_by_label("Pièces jointes (facultatif)").set_input_files(
        [{"name": "virement.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}])
    page.get_by_role("button", name="Envoyer").click()
    page.wait_for_url(f"{suite.url}/messages/*")
    assert page.get_by_role("link", name="virement.jpg").is_visible()
    check_page(page, "thread after sending")


class _Suite:
    def __init__(self, url: str):
        self.url = url


def main(argv: list[str]) -> int:
    name, url = argv[1], argv[2].rstrip("/")
    scenario = globals()[f"scenario_{name}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.csp_errors = []
        page.on("console", lambda m: page.csp_errors.append(m.text)
                if "Content Security Policy" in m.text else None)
        try:
            scenario(page, _Suite(url))
        except Exception:  # noqa: BLE001 - reported to the parent test
            traceback.print_exc()
            return 1
        finally:
            context.close()
            browser.close()
    print(f"scenario {name}: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
