"""Postal letters: queued one PDF per notification (named after it, so a
retry rewrites the same file), then collected into print batches for the
mail house: one merged PDF and a CSV manifest, closed at a cut-off."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from carpimko import files


def letter_path(root: Path, day: date, notification_id: str) -> Path:
    return root / day.isoformat() / f"{notification_id}.pdf"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        files.fsync(fh.fileno())
    os.replace(tmp, path)


def write_letter(root: Path, day: date, notification_id: str, pdf: bytes) -> Path:
    path = letter_path(root, day, notification_id)
    _atomic_write(path, pdf)
    return path


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


@dataclass(frozen=True)
class QueuedLetter:
    id: str
    file_number: str
    full_name: str
    address_lines: list[str]
    path: str
    pages: int


MANIFEST_COLUMNS = ["sequence", "letter_id", "file_number", "name", "address_1", "address_2",
                    "address_3", "address_4", "address_5", "pages", "first_page"]


def build_batch(letters: list[QueuedLetter], folder: Path, batch_id: str) -> dict:
    """Merge the letters into ``batch.pdf`` and write ``manifest.csv`` in
    ``folder``; return paths, counts and the PDF's SHA-256."""
    writer = PdfWriter()
    rows = []
    first_page = 1
    for sequence, letter in enumerate(letters, start=1):
        reader = PdfReader(letter.path)
        for page in reader.pages:
            writer.add_page(page)
        lines = (list(letter.address_lines) + [""] * 5)[:5]
        rows.append([sequence, letter.id, letter.file_number, letter.full_name, *lines,
                     len(reader.pages), first_page])
        first_page += len(reader.pages)
    buffer = io.BytesIO()
    writer.write(buffer)
    pdf = buffer.getvalue()
    pdf_path = folder / f"{batch_id}.pdf"
    _atomic_write(pdf_path, pdf)
    manifest = io.StringIO()
    out = csv.writer(manifest)
    out.writerow(MANIFEST_COLUMNS)
    out.writerows(rows)
    manifest_path = folder / f"{batch_id}.csv"
    _atomic_write(manifest_path, manifest.getvalue().encode("utf-8"))
    return {"pdf_path": str(pdf_path), "manifest_path": str(manifest_path),
            "letter_count": len(letters), "page_count": first_page - 1,
            "sha256": hashlib.sha256(pdf).hexdigest()}


def batch_id_for(cut_off: datetime) -> str:
    return cut_off.strftime("%Y-%m-%dT%H%M%S")


def address_json(lines: list[str]) -> str:
    return json.dumps(lines, ensure_ascii=False)
