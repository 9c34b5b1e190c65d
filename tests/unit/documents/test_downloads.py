"""The gateway's download headers and the "Mes documents" filters."""
from __future__ import annotations

import pytest

from gateway.documents_pages import content_disposition, download_filename, filter_documents

DOCS = [
    {"id": "1", "kind": "contribution_statement", "title": "Relevé de cotisations 2026",
     "year": 2026, "issued_on": "2026-11-28"},
    {"id": "2", "kind": "contribution_statement", "title": "Relevé de cotisations 2025",
     "year": 2025, "issued_on": "2025-06-02"},
    {"id": "3", "kind": "payment_schedule", "title": "Échéancier 2026", "year": 2026,
     "issued_on": "2026-01-10"},
    {"id": "4", "kind": "access_letter", "title": "Votre première connexion", "year": None,
     "issued_on": "2024-03-01"},
]


@pytest.mark.parametrize("kind, year, ids", [
    (None, None, ["1", "2", "3", "4"]),
    ("contribution_statement", None, ["1", "2"]),
    (None, "2026", ["1", "3"]),
    ("contribution_statement", "2025", ["2"]),
    (None, "2024", ["4"]),          # no year of its own: its issue year
    ("payment_schedule", "2025", []),
])
def test_filters(kind, year, ids):
    assert [d["id"] for d in filter_documents(DOCS, kind, year)] == ids


def test_rfc6266_filename():
    name = download_filename(DOCS[2])
    assert name == "Carpimko - Échéancier 2026 - 2026-01-10.pdf"
    assert content_disposition(name) == (
        'attachment; filename="Carpimko - Echeancier 2026 - 2026-01-10.pdf"; '
        "filename*=UTF-8''Carpimko%20-%20%C3%89ch%C3%A9ancier%202026%20-%202026-01-10.pdf")


def test_filename_cannot_break_the_header_or_the_path():
    name = download_filename({"kind": "x", "title": 'a"b/c\\d;\r\ne', "issued_on": "2026-01-01"})
    header = content_disposition(name)
    assert "\r" not in header and "\n" not in header
    fallback = header.split('filename="')[1].split('"')[0]
    assert '"' not in fallback and "/" not in fallback and "\\" not in fallback
