"""Every kind of document: its figures and file number (pypdf text), its
validation, and its page as an image (pdftoppm) so a broken layout is caught."""
from __future__ import annotations

import copy
import io
import re
import shutil
import subprocess

import pytest
from PIL import Image
from pypdf import PdfReader

from services.documents.rendering import (
    RENDERERS,
    render_access_letter,
    render_career_statement,
    render_contributions_certificate,
    render_payment_certificate,
    render_payment_schedule,
    render_regularisation_notice,
)

MEMBER = {"full_name": "Mme Claire MARTIN", "address_lines": ["12 rue des Lilas", "69003 LYON"]}
VERIFICATION = {"code": "K7QH-3MZP-XW9C-T4RB",
                "url": "https://espace.carpimko.test/verify/K7QH-3MZP-XW9C-T4RB"}


def common(**extra) -> dict:
    return {"file_number": "1234567", "member": copy.deepcopy(MEMBER),
            "issued_on": "2026-11-28", "verification": dict(VERIFICATION), **extra}


def schedule(**overrides) -> dict:
    data = common(year=2026, frequency="monthly", method="direct_debit",
                  instalments=[{"due_on": f"2026-{m:02d}-05", "amount": "760.50"}
                               for m in range(1, 13)],
                  total="9126.00")
    data.update(overrides)
    return data


def regularisation(**overrides) -> dict:
    data = common(year=2025, income_used="40000.00",
                  lines=[{"label": "Régime de base", "provisional": "3900.00",
                          "regularised": "4240.00"},
                         {"label": "Régime complémentaire", "provisional": "3100.00",
                          "regularised": "3480.00"}],
                  provisional_total="7000.00", regularised_total="7720.00", balance="720.00",
                  instalments_left=4)
    data.update(overrides)
    return data


def certificate(**overrides) -> dict:
    data = common(year=2025, payments=[{"label": "Régime de base", "amount": "4240.00"},
                                       {"label": "Régime complémentaire", "amount": "3480.00"},
                                       {"label": "Invalidité-décès", "amount": "1022.00"}],
                  total="8742.00")
    data.update(overrides)
    return data


def career(**overrides) -> dict:
    data = common(as_of="2026-11-28", years=[
        {"year": 2023, "income": "31000.00", "quarters": 4, "rb_points": "412.30",
         "rc_points": "18.00"},
        {"year": 2024, "income": "38000.00", "quarters": 4, "rb_points": "498.75",
         "rc_points": "20.00"},
        {"year": 2025, "income": None, "quarters": 3, "rb_points": "0", "rc_points": "8"},
    ])
    data.update(overrides)
    return data


def payment_certificate(**overrides) -> dict:
    data = common(benefit="retirement", year=2025, payments=[
        {"period": "2025-01", "paid_on": "2025-01-09", "gross": "1250.00", "net": "1130.40"},
        {"period": "2025-02", "paid_on": "2025-02-09", "gross": "1250.00", "net": "1130.40"},
    ], total_gross="2500.00", total_net="2260.80")
    data.update(overrides)
    return data


def access_letter(**overrides) -> dict:
    data = common(purpose="first_login", one_time_code="48KQ-7XZM", expires_on="2026-12-12",
                  portal_url="https://espace.carpimko.fr", verification=None)
    data.update(overrides)
    return data


def text_of(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages)).strip()


CASES = {
    "payment_schedule": (render_payment_schedule, schedule, [
        "Échéancier de vos cotisations 2026", "mensuelle (12 échéances)",
        "prélèvement automatique", "Total des cotisations 2026 9 126,00 €",
        "1 05/01/2026 760,50 €", "12 05/12/2026 760,50 €", "Total 9 126,00 €"]),
    "regularisation_notice": (render_regularisation_notice, regularisation, [
        "Régularisation de vos cotisations 2025", "Revenus 2025 déclarés 40 000,00 €",
        "Complément à payer pour 2025 720,00 €",
        "Régime de base 3 900,00 € 4 240,00 € 340,00 €",
        "Régime complémentaire 3 100,00 € 3 480,00 € 380,00 €",
        "Total 7 000,00 € 7 720,00 € 720,00 €", "réparti sur vos 4 prochaines échéances"]),
    "contributions_certificate": (render_contributions_certificate, certificate, [
        "Attestation de cotisations versées en 2025", "Mme Claire MARTIN, n° de dossier 1234567",
        "Régime de base 4 240,00 €", "Invalidité-décès 1 022,00 €",
        "Total versé en 2025 8 742,00 €"]),
    "career_statement": (render_career_statement, career, [
        "Votre carrière à la Carpimko au 28/11/2026", "Trimestres validés 11",
        "Points régime de base 911,05", "Points régime complémentaire 46,00",
        "2024 38 000,00 € 4 498,75 20,00", "2025 non connus 3 0,00 8,00",
        "Total des années définitives 11 911,05 46,00"]),
    "payment_certificate": (render_payment_certificate, payment_certificate, [
        "Attestation de paiement 2025", "au titre de votre pension de retraite",
        "janvier 2025 09/01/2025 1 250,00 € 1 130,40 €",
        "Total 2025 2 500,00 € 2 260,80 €"]),
    "access_letter": (render_access_letter, access_letter, [
        "Objet : accès à votre espace personnel", "48KQ-7XZM",
        "jusqu’au 12 décembre 2026 inclus", "https://espace.carpimko.fr",
        "numéro de dossier (1234567)"]),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_figures_and_file_number(kind):
    render, make, expected = CASES[kind]
    pdf = render(make())
    text = text_of(pdf)
    assert "N° de dossier : 1234567" in text
    assert "Mme Claire MARTIN 12 rue des Lilas 69003 LYON" in text
    assert "Page 1 / 1" in text
    for fragment in expected:
        assert fragment in text, fragment
    assert RENDERERS[kind] is render


def test_career_statement_keeps_provisional_years_apart():
    """2026 is known only by its adjusted call (on 2025's income): listed, marked, not added to the totals."""
    years = career()["years"][:2] + [
        {"year": 2025, "income": "46000.00", "quarters": 4, "rb_points": "517.62", "rc_points": "22.00",
         "status": "provisional"},  # e.g. under review
        {"year": 2026, "income": None, "quarters": 4, "rb_points": "517.62", "rc_points": "0.00",
         "status": "provisional", "call": {"stage": "adjusted", "income_year": 2025, "income": "46000.00"}}]
    text = text_of(render_career_statement(career(years=years)))
    # final: 2023 + 2024 = 8 quarters, 412.30 + 498.75 = 911.05, 18 + 20 = 38
    assert "Trimestres validés 8" in text and "Points régime de base 911,05" in text
    assert "Points régime complémentaire 38,00" in text
    assert "2026 (provisoire) appel ajusté sur revenus 2025 : 46 000,00 € 4 517,62 0,00" in text
    assert "2025 (provisoire) 46 000,00 € 4 517,62 22,00" in text
    assert "Total des années définitives 8 911,05 38,00" in text
    # provisional: 4 + 4 = 8 quarters, 517.62 x 2 = 1035.24, 22 + 0 = 22
    assert "Années provisoires 8 1 035,24 22,00" in text
    assert "Années provisoires (2025, 2026), non comptées ci-dessus" in text


@pytest.mark.parametrize("year, message", [
    ({"status": "maybe"}, "'years[0].status' must be final or provisional"),
    ({"call": {"stage": "adjusted", "income_year": 2025, "income": "1.00"}}, "'years[0].call': a year known only"),
    ({"status": "provisional", "call": {"stage": "regularised", "income_year": 2025, "income": "1.00"}},
     "'years[0].call.stage' must be provisional or adjusted"),
])
def test_career_statement_refuses_a_bad_status_or_call(year, message):
    data = career(years=[{"year": 2026, "income": None, "quarters": 4, "rb_points": "1", "rc_points": "1", **year}])
    with pytest.raises(ValueError, match=re.escape(message)):
        render_career_statement(data)


def test_refund_and_password_reset_wording():
    text = text_of(render_regularisation_notice(regularisation(
        lines=[{"label": "Régime de base", "provisional": "4500.00", "regularised": "4240.00"}],
        provisional_total="4500.00", regularised_total="4240.00", balance="-260.00")))
    assert "Trop-versé qui vous est remboursé 260,00 €" in text
    assert "l’écart vous est remboursé" in text
    text = text_of(render_access_letter(access_letter(purpose="password_reset")))
    assert "réinitialisation de votre mot de passe" in text


@pytest.mark.parametrize("render, data, message", [
    (render_payment_schedule, schedule(total="9000.00"),
     "'total' is 9000.00 but the instalments add up to 9126.00"),
    (render_payment_schedule, schedule(frequency="weekly"), "'frequency' must be one of"),
    (render_payment_schedule, schedule(instalments=[]), "'instalments' is empty"),
    (render_regularisation_notice, regularisation(balance="700.00"), "'balance' is 700.00"),
    (render_contributions_certificate, certificate(total=8742.0), "'total'"),
    (render_career_statement, career(years=[{"year": 2024, "income": "1", "quarters": 5,
                                             "rb_points": "1", "rc_points": "1"}]),
     "'years[0].quarters' must be an integer from 0 to 4"),
    (render_payment_certificate, payment_certificate(benefit="pension"), "'benefit'"),
    (render_payment_certificate,
     payment_certificate(payments=[{"period": "2025-13", "paid_on": "2025-01-09",
                                    "gross": "1", "net": "1"}], total_gross="1", total_net="1"),
     "'payments[0].period' must be a month YYYY-MM"),
    (render_access_letter, access_letter(one_time_code=""), "'one_time_code'"),
])
def test_bad_data_is_refused_with_a_clear_message(render, data, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        render(data)


# ------------------------------------------------------------- page images

pdftoppm = shutil.which("pdftoppm")


def page_images(pdf: bytes, tmp_path) -> list[Image.Image]:
    (tmp_path / "doc.pdf").write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", "40", "-gray", "-png", str(tmp_path / "doc.pdf"),
                    str(tmp_path / "page")], check=True, capture_output=True, timeout=60)
    return [Image.open(path).convert("L") for path in sorted(tmp_path.glob("page*.png"))]


def ink(image: Image.Image, box_mm: tuple) -> int:
    """Dark pixels inside a box given in millimetres from the top-left corner."""
    scale = image.width / 210
    left, top, right, bottom = (round(v * scale) for v in box_mm)
    region = image.crop((left, top, right, bottom))
    return sum(1 for value in region.getdata() if value < 200)


ALL_KINDS = {**{kind: (case[0], case[1]) for kind, case in CASES.items()}}


@pytest.mark.skipif(pdftoppm is None, reason="pdftoppm (poppler-utils) not installed")
@pytest.mark.parametrize("kind", sorted(ALL_KINDS) + ["contribution_statement",
                                                     "notification_letter"])
def test_page_renders_to_an_image_with_the_layout_in_place(kind, tmp_path):
    from tests.unit.documents.test_rendering import make_letter, make_statement
    if kind == "contribution_statement":
        pdf = RENDERERS[kind](make_statement(verification=dict(VERIFICATION)))
    elif kind == "notification_letter":
        pdf = RENDERERS[kind](make_letter())
    else:
        render, make = ALL_KINDS[kind]
        pdf = render(make())
    pages = page_images(pdf, tmp_path)
    assert len(pages) == len(PdfReader(io.BytesIO(pdf)).pages) >= 1
    first = pages[0]
    assert first.size == (round(210 / 25.4 * 40), round(297 / 25.4 * 40))  # A4
    assert ink(first, (20, 22, 80, 32)) > 20          # letterhead
    assert ink(first, (140, 14, 190, 20)) > 10        # file number, top right
    assert ink(first, (112, 50, 197, 86)) > 20        # address in the envelope window
    assert ink(first, (20, 95, 190, 150)) > 50        # body below the window
    assert ink(first, (160, 280, 190, 286)) > 5       # "Page 1 / N"
    assert ink(first, (0, 0, 210, 12)) == 0           # nothing in the top margin
    assert ink(first, (195, 20, 210, 297)) == 0       # nothing beyond the right margin
    has_qr = kind not in ("access_letter", "notification_letter")
    assert (ink(first, (20, 60, 44, 84)) > 100) == has_qr  # QR code, left of window


@pytest.mark.parametrize("notice, words", [
    ("password_changed", "a été modifié le 28/11/2026"),
    ("account_locked", "bloqué par sécurité"),
    ("contact_changed", "ancienne adresse"),
])
def test_account_notice_letters_say_what_happened(notice, words):
    from services.documents.rendering import render_account_notice
    pdf = render_account_notice({
        "file_number": "7654321", "issued_on": "2026-11-28", "subject": "Votre espace personnel",
        "member": {"full_name": "M. Jean DUPONT", "address_lines": ["3 chemin du Moulin", "29200 BREST"]},
        "portal_url": "https://espace.carpimko.fr", "verification": None, "kind": notice,
        "changed_on": "28/11/2026"})
    text = text_of(pdf)
    assert words in text and "7654321" in text
    assert "Un nouveau document" not in text


def test_account_notice_refuses_an_unknown_kind():
    from services.documents.rendering import render_account_notice
    with pytest.raises(ValueError, match="'kind' must be one of"):
        render_account_notice({"file_number": "7654321", "issued_on": "2026-11-28", "subject": "x",
                               "member": {"full_name": "M. X", "address_lines": ["a", "29200 B"]},
                               "portal_url": "u", "verification": None, "kind": "other"})
