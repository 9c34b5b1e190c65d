"""Rendering of the fund's PDFs (services/documents/rendering).

The PDFs are read back with pypdf. Amounts use no-break spaces as thousands
separators (and the PDF maps them to plain spaces), so every text comparison
goes through `normalise()`, which folds any run of whitespace into one space.
"""

from __future__ import annotations

import copy
import io
import re

import pytest
from pypdf import PdfReader

from services.documents.rendering import (
    format_date,
    format_money,
    format_number,
    format_rate,
    render_contribution_statement,
    render_letter,
)

NBSP = "\u00a0"


def make_statement(**overrides) -> dict:
    data = {
        "file_number": "1234567",
        "member": {
            "full_name": "Mme Claire Martin",
            "address_lines": ["12 rue des Lilas", "69003 Lyon"],
        },
        "year": 2026,
        "status": "regularised",
        "issued_on": "2026-11-28",
        "income_used": "40000.00",
        "income_declared": True,
        "lines": [
            {"scheme": "rb_t1", "label": "Régime de base – tranche 1", "base": "40000.00",
             "rate": "8.73", "fixed": "0.00", "amount": "3492.00"},
            {"scheme": "rb_t2", "label": "Régime de base – tranche 2", "base": "40000.00",
             "rate": "1.87", "fixed": "0.00", "amount": "748.00"},
            {"scheme": "rc", "label": "Régime complémentaire", "base": "40000.00",
             "rate": "8.70", "fixed": "0.00", "amount": "3480.00"},
            {"scheme": "asv", "label": "Avantage social vieillesse (ASV)", "base": "40000.00",
             "rate": "0.40", "fixed": "224.00", "amount": "384.00"},
            {"scheme": "id", "label": "Invalidité-décès", "base": None,
             "rate": None, "fixed": "1022.00", "amount": "1022.00"},
        ],
        "total": "9126.00",
        "parameters_version": "2026.1",
        "notes": ["Vos revenus 2026 ont été déclarés le 12/05/2026."],
        "verification": None,
    }
    data.update(overrides)
    return data


def make_letter(**overrides) -> dict:
    data = {
        "file_number": "7654321",
        "member": {
            "full_name": "M. Jean Dupont",
            "address_lines": ["3 chemin du Moulin", "29200 Brest"],
        },
        "issued_on": "2026-11-28",
        "subject": "Un nouveau document est disponible",
        "document_label": "Relevé de cotisations 2026",
        "portal_url": "http://127.0.0.1:8000",
    }
    data.update(overrides)
    return data


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def page_texts(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [normalise(page.extract_text()) for page in reader.pages]


@pytest.fixture(scope="module")
def statement_pdf() -> bytes:
    return render_contribution_statement(make_statement())


@pytest.fixture(scope="module")
def statement_text(statement_pdf) -> str:
    return " ".join(page_texts(statement_pdf))


@pytest.fixture(scope="module")
def letter_pdf() -> bytes:
    return render_letter(make_letter())


@pytest.fixture(scope="module")
def letter_text(letter_pdf) -> str:
    return " ".join(page_texts(letter_pdf))


# --------------------------------------------------------------- statement

def test_statement_is_a_pdf(statement_pdf):
    assert isinstance(statement_pdf, bytes)
    assert statement_pdf.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(statement_pdf)).pages) == 1


def test_statement_is_a4(statement_pdf):
    box = PdfReader(io.BytesIO(statement_pdf)).pages[0].mediabox
    # A4 = 595.28 x 841.89 pt
    assert round(float(box.width)) == 595
    assert round(float(box.height)) == 842


def test_statement_content(statement_text):
    text = statement_text
    assert "N° de dossier : 1234567" in text
    assert "Relevé de cotisations 2026" in text
    assert "Régularisation sur vos revenus 2026" in text
    assert "Mme Claire Martin 12 rue des Lilas 69003 Lyon" in text
    assert "28/11/2026" in text
    assert "40 000,00 € (revenus déclarés)" in text
    # one row per scheme: label, base, rate, fixed part, amount
    assert "Régime de base – tranche 1 40 000,00 € 8,73 % — 3 492,00 €" in text
    assert "Régime complémentaire 40 000,00 € 8,70 % — 3 480,00 €" in text
    assert "Avantage social vieillesse (ASV) 40 000,00 € 0,40 % 224,00 € 384,00 €" in text
    assert "Invalidité-décès — — 1 022,00 € 1 022,00 €" in text
    assert "Total dû 9 126,00 €" in text
    assert "Comment ce montant est-il calculé ?" in text
    assert "Vos revenus 2026 ont été déclarés le 12/05/2026." in text
    assert "Barème 2026.1" in text
    assert "Page 1 / 1" in text


def test_statement_total_and_euro_sign(statement_text):
    assert "9 126,00" in statement_text
    assert "€" in statement_text


def test_statement_french_accents(statement_text):
    for word in ("Régime complémentaire", "Invalidité-décès", "Relevé", "À noter",
                 "d’émission", "dû"):
        assert word in statement_text


def test_statement_provisional_and_undeclared_income():
    text = " ".join(page_texts(render_contribution_statement(
        make_statement(status="provisional", income_declared=False))))
    assert "Appel provisionnel" in text
    assert "Régularisation" not in text
    assert "revenus non déclarés" in text


def test_statement_verification_code_only_when_present(statement_pdf, statement_text):
    assert "Vérifier ce document" not in statement_text
    assert b"/Subtype /Image" not in statement_pdf
    url = "https://espace.example/verify/AB12-CD34-EF56-GH78"
    pdf = render_contribution_statement(make_statement(
        verification={"code": "AB12-CD34-EF56-GH78", "url": url}))
    text = " ".join(page_texts(pdf))
    assert "Vérifier ce document" in text
    assert "https://espace.example/verify/ AB12-CD34-EF56-GH78" in text
    # the QR code is one image on the first page
    reader = PdfReader(io.BytesIO(pdf))
    images = reader.pages[0].images
    assert len(images) == 1


def test_qr_matrix_matches_reportlab_encoder():
    """Our fast bit buffer, Reed-Solomon step and data placement give exactly
    reportlab's QR code."""
    from reportlab.graphics.barcode import qrencoder
    from services.documents.rendering.engine import QR_MASK_PATTERN, qr_matrix
    import random
    import string
    rng = random.Random(7)
    values = ["https://espace.example/verify/AB12-CD34-EF56-GH78",
              "http://127.0.0.1:8000/verify/" + "Z" * 60, "7", "HELLO WORLD", "é€"]
    # byte, numeric and alphanumeric modes, versions 1 to 13 (7 and up carry
    # version information)
    for length in range(1, 300, 7):
        for alphabet in (string.printable[:94], string.digits,
                         string.ascii_uppercase + " $%*+-./:"):
            values.append("".join(rng.choice(alphabet) for _ in range(length)))
    for value in values:
        qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        qr.addData(value)
        qr.version = qr.calculate_version()
        qr.makeImpl(False, QR_MASK_PATTERN)
        assert qr_matrix(value) == qr.modules


def test_statement_optional_keys_may_be_absent():
    data = make_statement()
    for key in ("notes", "verification", "income_declared"):
        del data[key]
    text = " ".join(page_texts(render_contribution_statement(data)))
    assert "Total dû 9 126,00 €" in text
    assert "À noter" not in text


def test_multi_page_statement_numbers_every_page_and_repeats_file_number():
    notes = [f"Note {i} : un texte assez long pour remplir la page et passer à la suivante, "
             "avec des accents (é, è, à, ç) et le symbole €." for i in range(40)]
    pages = page_texts(render_contribution_statement(make_statement(notes=notes)))
    count = len(pages)
    assert count >= 2
    for number, text in enumerate(pages, start=1):
        assert "N° de dossier : 1234567" in text
        assert f"Page {number} / {count}" in text
    # the postal address is printed for the envelope window, on the first page only
    assert "Mme Claire Martin" in pages[0]
    assert all("Mme Claire Martin" not in text for text in pages[1:])


def test_member_data_is_escaped():
    member = {"full_name": "Mme Ève <Durand> & Fils", "address_lines": ['5 rue "Haute"', "75001 Paris"]}
    text = " ".join(page_texts(render_contribution_statement(make_statement(member=member))))
    assert "Mme Ève <Durand> & Fils" in text
    assert '5 rue "Haute"' in text


def test_rendering_is_deterministic():
    assert render_contribution_statement(make_statement()) == render_contribution_statement(make_statement())


def test_concurrent_rendering_from_threads():
    from concurrent.futures import ThreadPoolExecutor

    numbers = [f"{9000000 + i}" for i in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        pdfs = list(pool.map(lambda n: render_contribution_statement(make_statement(file_number=n)), numbers))
    for number, pdf in zip(numbers, pdfs):
        assert f"N° de dossier : {number}" in page_texts(pdf)[0]


# ------------------------------------------------------------------ fonts

def _fonts(pdf: bytes):
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            yield font
            for descendant in font.get("/DescendantFonts", []):
                yield descendant.get_object()


@pytest.mark.parametrize("which", ["statement", "letter"])
def test_fonts_are_embedded_truetype(which, statement_pdf, letter_pdf):
    pdf = statement_pdf if which == "statement" else letter_pdf
    fonts = list(_fonts(pdf))
    assert fonts
    for font in fonts:
        assert font["/Subtype"] in ("/TrueType", "/CIDFontType2"), font["/BaseFont"]
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, f"{font['/BaseFont']} is not embedded"
    names = {str(font["/BaseFont"]) for font in fonts}
    assert any("BitstreamVeraSans-Roman" in name for name in names)
    assert any("BitstreamVeraSans-Bold" in name for name in names)
    assert not any("Helvetica" in name or "Times" in name for name in names)


# ----------------------------------------------------------------- letter

def test_letter_content(letter_pdf, letter_text):
    assert letter_pdf.startswith(b"%PDF-")
    text = letter_text
    assert "N° de dossier : 7654321" in text
    assert "M. Jean Dupont 3 chemin du Moulin 29200 Brest" in text
    assert "Versailles, le 28 novembre 2026" in text
    assert "Objet : Un nouveau document est disponible" in text
    assert "Un nouveau document est disponible dans votre espace personnel" in text
    assert "« Relevé de cotisations 2026 »" in text
    assert "http://127.0.0.1:8000" in text
    assert "Page 1 / 1" in text


def test_letter_has_no_personal_figures(letter_text):
    assert "€" not in letter_text
    assert "%" not in letter_text


def test_letter_first_of_month():
    text = " ".join(page_texts(render_letter(make_letter(issued_on="2027-01-01"))))
    assert "Versailles, le 1er janvier 2027" in text


# ------------------------------------------------------------- validation

@pytest.mark.parametrize("key", [
    "file_number", "member", "year", "status", "issued_on", "income_used",
    "lines", "total", "parameters_version",
])
def test_statement_missing_key_raises(key):
    data = make_statement()
    del data[key]
    with pytest.raises(ValueError, match=re.escape(f"'{key}'")):
        render_contribution_statement(data)


@pytest.mark.parametrize("path, expected", [
    (("member", "full_name"), "member.full_name"),
    (("member", "address_lines"), "member.address_lines"),
    (("lines", 1, "amount"), "lines[1].amount"),
    (("lines", 0, "label"), "lines[0].label"),
])
def test_statement_missing_nested_key_raises(path, expected):
    data = make_statement()
    target = data
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    with pytest.raises(ValueError, match=re.escape(f"'{expected}'")):
        render_contribution_statement(data)


@pytest.mark.parametrize("key", [
    "file_number", "member", "issued_on", "subject", "document_label", "portal_url",
])
def test_letter_missing_key_raises(key):
    data = make_letter()
    del data[key]
    with pytest.raises(ValueError, match=re.escape(f"'{key}'")):
        render_letter(data)


@pytest.mark.parametrize("overrides, message", [
    ({"status": "final"}, "'status'"),
    ({"total": 9126.0}, "'total'"),
    ({"total": "9 126"}, "'total'"),
    ({"income_used": None}, "'income_used'"),
    ({"issued_on": "28/11/2026"}, "'issued_on'"),
    ({"year": "2026"}, "'year'"),
    ({"lines": []}, "'lines'"),
    ({"notes": "not a list"}, "'notes'"),
    ({"file_number": "12\x0c34"}, "'file_number'"),
])
def test_statement_malformed_values_raise(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        render_contribution_statement(make_statement(**overrides))


def test_non_mapping_raises():
    with pytest.raises(ValueError):
        render_contribution_statement(None)
    with pytest.raises(ValueError):
        render_letter(["not", "a", "dict"])


def test_too_many_address_lines_raise():
    member = {"full_name": "M. X", "address_lines": [f"ligne {i}" for i in range(6)]}
    with pytest.raises(ValueError, match="address_lines"):
        render_letter(make_letter(member=member))


def test_input_is_not_mutated():
    data = make_statement()
    snapshot = copy.deepcopy(data)
    render_contribution_statement(data)
    assert data == snapshot


# ------------------------------------------------------------- formatting

@pytest.mark.parametrize("value, expected", [
    ("9126.00", f"9{NBSP}126,00{NBSP}€"),
    ("0", f"0,00{NBSP}€"),
    ("12.5", f"12,50{NBSP}€"),
    ("1234567.891", f"1{NBSP}234{NBSP}567,89{NBSP}€"),
    ("-2500.00", f"-2{NBSP}500,00{NBSP}€"),
    ("0.005", f"0,01{NBSP}€"),  # half up
])
def test_format_money(value, expected):
    assert format_money(value) == expected


def test_format_number():
    assert format_number("40000") == f"40{NBSP}000,00"
    assert format_number("999.999") == f"1{NBSP}000,00"


@pytest.mark.parametrize("value, expected", [
    ("8.73", f"8,73{NBSP}%"),
    ("10.1", f"10,10{NBSP}%"),
    ("0.535", f"0,535{NBSP}%"),
    ("8.700", f"8,70{NBSP}%"),
    ("12", f"12,00{NBSP}%"),
])
def test_format_rate(value, expected):
    assert format_rate(value) == expected


def test_format_date():
    assert format_date("2026-11-28") == "28/11/2026"


@pytest.mark.parametrize("bad", [9126.0, None, True, "abc", "NaN", "Infinity"])
def test_format_money_refuses_floats_and_garbage(bad):
    with pytest.raises(ValueError):
        format_money(bad)


def test_statement_of_each_stage_of_the_yearly_cycle():
    """contributions_recalculated v2: the three calls read differently, and a later call says what changed."""
    provisional = normalise(" ".join(page_texts(render_contribution_statement(make_statement(
        status="provisional", basis="income", income_year=2024)))))
    assert "Appel provisionnel sur vos revenus 2024" in provisional
    assert "Ce qui a changé" not in provisional
    adjusted = normalise(" ".join(page_texts(render_contribution_statement(make_statement(
        status="adjusted", basis="income", income_year=2025,
        changes={"previous_total": "8000.00", "difference": "1126.00"})))))
    assert "Appel ajusté sur vos revenus 2025" in adjusted
    assert "Ce qui a changé depuis le dernier appel" in adjusted
    assert "8 000,00" in adjusted and "1 126,00" in adjusted
    regularised = normalise(" ".join(page_texts(render_contribution_statement(make_statement(
        status="regularised", basis="income", income_year=2026)))))
    assert "Régularisation sur vos revenus 2026" in regularised
    start = normalise(" ".join(page_texts(render_contribution_statement(make_statement(
        status="provisional", basis="flat_start", income_year=None)))))
    assert "début d’activité" in start or "début d'activité" in start
    with pytest.raises(ValueError, match="basis"):
        render_contribution_statement(make_statement(status="adjusted", basis="guess"))


def test_memoised_text_chunks_only_serve_documents_seeded_with_the_charset():
    """A text's (subset, codes) chunks are reused only in our documents, whose
    font states all start from CHARSET; another canvas using the font, or a
    rarer character, gets reportlab's own mapping."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen.canvas import Canvas

    from services.documents.rendering.engine import _NumberedCanvas

    font = pdfmetrics.getFont("Doc")
    text = "Relevé de cotisations – « 2026 »"
    ours = _NumberedCanvas(io.BytesIO(), "Page {page} / {pages}")
    expected = font.splitString.split(text, ours._doc)
    font.splitString(text, ours._doc)  # memoised
    again = _NumberedCanvas(io.BytesIO(), "Page {page} / {pages}")
    assert font.splitString(text, again._doc) == expected
    # a fresh state assigns codes in order of use: not those of the cache
    fresh = font.splitString.split(text, Canvas(io.BytesIO())._doc)
    assert fresh != expected
    assert font.splitString(text, Canvas(io.BytesIO())._doc) == fresh
    rare = "Ōkubo"
    assert font.splitString(rare, again._doc) == font.splitString.split(rare, again._doc)
    assert rare not in font.splitString.cache
