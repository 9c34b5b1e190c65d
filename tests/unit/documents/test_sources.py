"""The documents fed by events: the payment schedule (``schedule_changed``),
the regularisation notice and the "adjusted" statement
(``contributions_recalculated``), the certificate from payments: figures and
file number (pypdf), pages as images (pdftoppm), and who is told."""
from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import date

import pytest
from pypdf import PdfReader

from carpimko.events import parse_event
from services.documents import issuing, rendering, sources
from tests.support import factories
from tests.unit.documents.test_kinds import VERIFICATION, ink, page_images, pdftoppm, text_of

MEMBER = {"full_name": "Mme Claire MARTIN", "address_lines": ["12 rue des Lilas", "69003 LYON"],
          "first_name": "Claire", "last_name": "Martin"}
ISSUED = date(2026, 11, 28)


def schedule_pdf(**kw) -> bytes:
    event = parse_event(factories.schedule_changed("1234567", **kw))
    return rendering.render_payment_schedule(
        sources.schedule_data(event, MEMBER, ISSUED, dict(VERIFICATION)))


def regularisation_pdf(previous="8000.00") -> bytes:
    event = parse_event(factories.contributions_recalculated("1234567", previous_total=previous))
    return rendering.render_regularisation_notice(
        sources.regularisation_data(event, MEMBER, ISSUED, dict(VERIFICATION)))


def certificate_pdf() -> bytes:
    payments = [{"reference": "B2", "paid_on": "2025-02-05", "year": 2025, "amount": "760.50"},
                {"reference": "B1", "paid_on": "2025-01-05", "year": 2024, "amount": "1200.00"}]
    return rendering.render_contributions_certificate(
        sources.certificate_data("1234567", 2025, payments, MEMBER, ISSUED, dict(VERIFICATION)))


def test_schedule_from_the_event_has_its_instalments_and_total():
    text = text_of(schedule_pdf(total="9126.05", previous_total="8000.00"))
    assert "N° de dossier : 1234567" in text
    assert "Échéancier de vos cotisations 2026" in text
    assert "Total des cotisations 2026 9 126,05 €" in text
    assert "1 05/01/2026 760,51 €" in text and "12 05/12/2026 760,50 €" in text
    assert "remplace le précédent, établi sur un total de 8 000,00 €" in text
    assert "K7QH-3MZP-XW9C-T4RB" in text


def test_schedule_with_a_credit_adds_up_and_says_so():
    data = sources.schedule_data(parse_event(factories.schedule_changed("1234567")), MEMBER,
                                 ISSUED, None)
    data["credit"] = "26.00"
    data["instalments"][0]["amount"] = "786.50"
    text = text_of(rendering.render_payment_schedule(data))
    assert "Total 9 152,00 €" in text and "de 26,00 €" in text
    data["credit"] = "25.00"
    with pytest.raises(ValueError, match="'total \\+ credit' is 9151.00 but the instalments"):
        rendering.render_payment_schedule(data)


@pytest.mark.parametrize("previous, words", [
    ("8000.00", "Complément à payer pour 2026 1 126,00 €"),
    ("9500.00", "Trop-versé qui vous est remboursé 374,00 €"),
])
def test_regularisation_notice_from_the_event(previous, words):
    text = text_of(regularisation_pdf(previous))
    assert "N° de dossier : 1234567" in text
    assert words in text
    assert f"Cotisations 2026 précédemment appelées {previous[:1]} " in text
    assert "Cotisations 2026 définitives 9 126,00 €" in text
    assert "Régime complémentaire 3 480,00 €" in text and "Total 9 126,00 €" in text


@pytest.mark.parametrize("status, previous, expected", [
    ("regularised", "8000.00", True),
    ("regularised", "9126.00", False),     # same total: nothing to regularise
    ("regularised", None, False),          # first assessment of the year
    ("adjusted", "8000.00", False),        # an adjusted call is no regularisation
    ("provisional", "8000.00", False),
])
def test_which_recalculations_regularise(status, previous, expected):
    payload = parse_event(factories.contributions_recalculated(
        "1234567", previous_total=previous, status="regularised")).raw["payload"]
    payload = {**payload, "status": status}
    assert sources.regularises(payload) is expected


def test_an_adjusted_call_renders_as_such():
    event = parse_event(factories.contributions_recalculated("1234567"))
    raw = copy.deepcopy(event.raw)
    raw["payload"]["status"] = "adjusted"  # as the contributions service emits it (v2)
    raw["payload"]["income_year"] = 2025
    parsed = dataclasses.replace(event, raw=raw)
    text = text_of(rendering.render_contribution_statement(
        issuing.statement_data(parsed, MEMBER, ISSUED, None)))
    assert "Appel ajusté sur vos revenus 2025" in text
    assert "Cet appel ajuste vos cotisations provisionnelles 2026" in text


def test_certificate_lists_each_payment_of_the_year():
    text = text_of(certificate_pdf())
    assert "Attestation de cotisations versées en 2025" in text
    assert "Mme Claire MARTIN, n° de dossier 1234567" in text
    assert "Le 05/01/2025, cotisations 2024 1 200,00 €" in text
    assert "Le 05/02/2025, cotisations 2025 760,50 €" in text
    assert "Total versé en 2025 1 960,50 €" in text


def test_who_is_told():
    respread = parse_event(factories.schedule_changed("1234567"))
    own_change = parse_event(factories.schedule_changed("1234567", reason="frequency_changed",
                                                        caused=False))
    assert sources.schedule_notified(respread) is False
    assert sources.schedule_notified(own_change) is True


def test_a_schedule_respread_by_a_call_without_a_cause_is_told_with_its_statement():
    """The yearly campaign and the member's estimate issue calls caused by no event: each member must still
    get one message (the statement), not a second one for the schedule."""
    campaign_respread = parse_event(factories.schedule_changed("1234567", caused=False))
    assert campaign_respread.causation_id is None
    assert sources.schedule_notified(campaign_respread) is False


def test_a_call_announced_with_another_is_told_in_its_message():
    regularisation, adjusted_id = str(uuid.uuid4()), str(uuid.uuid4())
    adjusted = parse_event(factories.contributions_recalculated(
        "1234567", status="adjusted", assessment_id=adjusted_id, announced_with=regularisation))
    regularised = parse_event(factories.contributions_recalculated(
        "1234567", year=2025, assessment_id=regularisation,
        also_announced=((adjusted_id, 2026, "adjusted"),)))
    alone = parse_event(factories.contributions_recalculated("1234567"))
    assert [sources.statement_notified(e) for e in (adjusted, regularised, alone)] == [False, True, True]
    assert sources.also_announced_titles(regularised) == ["Relevé de cotisations 2026"]
    assert sources.also_announced_titles(adjusted) == sources.also_announced_titles(alone) == []
    v2 = {**factories.contributions_recalculated("1234567"), "version": 2}
    for key in ("announced_with", "also_announced"):
        del v2["payload"][key]
    assert sources.statement_notified(parse_event(v2)) is True
    assert sources.also_announced_titles(parse_event(v2)) == []


@pytest.mark.skipif(pdftoppm is None, reason="pdftoppm (poppler-utils) not installed")
@pytest.mark.parametrize("make", [schedule_pdf, regularisation_pdf, certificate_pdf])
def test_event_fed_kinds_render_to_images_with_layout_and_qr(make, tmp_path):
    pdf = make()
    pages = page_images(pdf, tmp_path)
    assert len(pages) == len(PdfReader(__import__("io").BytesIO(pdf)).pages) >= 1
    first = pages[0]
    assert ink(first, (20, 22, 80, 32)) > 20          # letterhead
    assert ink(first, (140, 14, 190, 20)) > 10        # file number, top right
    assert ink(first, (112, 50, 197, 86)) > 20        # address in the envelope window
    assert ink(first, (20, 95, 190, 150)) > 50        # body
    assert ink(first, (20, 60, 44, 84)) > 100         # QR code
    assert ink(first, (0, 0, 210, 12)) == 0


@pytest.mark.skipif(pdftoppm is None, reason="pdftoppm (poppler-utils) not installed")
@pytest.mark.parametrize("kind", ["access_letter", "account_notice", "notification_letter"])
def test_letters_issued_through_documents_carry_the_qr_code(kind, tmp_path):
    from tests.unit.documents.test_kinds import access_letter
    from tests.unit.documents.test_rendering import make_letter
    data = {"access_letter": lambda: access_letter(),
            "account_notice": lambda: {**make_letter(), "kind": "password_changed",
                                       "changed_on": "28/11/2026"},
            "notification_letter": make_letter}[kind]()
    pdf = rendering.RENDERERS[kind]({**data, "verification": dict(VERIFICATION)})
    first = page_images(pdf, tmp_path)[0]
    assert ink(first, (112, 50, 197, 86)) > 20        # address in the envelope window
    assert ink(first, (20, 60, 44, 84)) > 100         # QR code, left of the window
    assert "K7QH-3MZP-XW9C-T4RB" in text_of(pdf)
