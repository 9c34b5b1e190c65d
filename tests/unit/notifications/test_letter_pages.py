"""The page count of a queued letter, read from the PDF's page tree instead
of parsing the whole file with pypdf: the same answer as pypdf."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from services.documents.rendering import render_contribution_statement, render_letter
from services.notifications import letters
from tests.unit.documents.test_rendering import make_letter, make_statement


def _pypdf_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _merged(*pdfs: bytes) -> bytes:
    writer = PdfWriter()
    for pdf in pdfs:
        for page in PdfReader(io.BytesIO(pdf)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def long_statement() -> bytes:
    notes = [f"Note {i} : un texte assez long pour remplir la page et passer à la suivante."
             for i in range(120)]
    return render_contribution_statement(make_statement(notes=notes))


def test_letter_is_counted_from_its_page_tree():
    pdf = render_letter(make_letter(verification={"code": "AB12-CD34",
                                                  "url": "https://x.example/verify/AB12-CD34"}))
    assert letters._page_tree_count(pdf) == 1 == letters.page_count(pdf) == _pypdf_count(pdf)


def test_multi_page_document_is_counted_like_pypdf(long_statement):
    assert _pypdf_count(long_statement) >= 3
    assert letters._page_tree_count(long_statement) == _pypdf_count(long_statement)
    assert letters.page_count(long_statement) == _pypdf_count(long_statement)


def test_a_pdf_written_by_pypdf_is_counted_too(long_statement):
    merged = _merged(render_letter(make_letter()), long_statement)
    assert letters.page_count(merged) == 1 + _pypdf_count(long_statement)


def test_an_updated_pdf_is_left_to_pypdf(long_statement):
    """An incremental update (a second trailer with /Prev) may change the
    page tree: the short walk gives up and pypdf counts."""
    letter = render_letter(make_letter())
    writer = PdfWriter(io.BytesIO(long_statement), incremental=True)
    writer.add_page(PdfReader(io.BytesIO(letter)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert letters._page_tree_count(updated) is None
    assert letters.page_count(updated) == _pypdf_count(long_statement) + 1


def test_an_object_not_where_the_table_says_is_left_to_pypdf():
    pdf = render_letter(make_letter())
    shifted = pdf.replace(b"%PDF-1.4\n", b"%PDF-1.4\n%shift\n", 1)
    assert letters._page_tree_count(shifted) is None
    assert letters.page_count(shifted) == 1  # pypdf recovers the moved objects


def test_not_a_pdf_still_fails():
    with pytest.raises(Exception):
        letters.page_count(b"not a pdf")
