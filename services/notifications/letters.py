"""Postal letters: queued one PDF per notification (named after it, so a
retry rewrites the same file), then collected into print batches for the
mail house: one merged PDF and a CSV manifest, closed at a cut-off."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
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
    """The number of pages of ``pdf``.

    Why not just pypdf: parsing a whole letter with it cost more CPU than
    everything else notifications does for the letter. The page count is
    written in the PDF itself: the trailer names the catalog, the catalog
    names the root of the page tree, whose ``/Count`` is the number of pages;
    the cross-reference table says where each object is. That walk reads a
    few hundred bytes. Anything it does not recognise (an incremental update,
    a cross-reference stream, an object not where the table says) is handed
    to pypdf, as before."""
    count = _page_tree_count(pdf)
    if count is not None:
        return count
    return len(PdfReader(io.BytesIO(pdf)).pages)


_TRAILER = re.compile(rb"trailer\s*<<(.*?)>>\s*startxref\s+(\d+)\s+%%EOF\s*$", re.S)
_ROOT = re.compile(rb"/Root\s+(\d+)\s+(\d+)\s+R\b")
_XREF = re.compile(rb"xref\s+0\s+(\d+)\s")
_PAGES = re.compile(rb"/Pages\s+(\d+)\s+(\d+)\s+R\b")
_COUNT = re.compile(rb"/Count\s+(\d+)\b")
_PAGES_TYPE = re.compile(rb"/Type\s*/Pages\b")


def _page_tree_count(pdf: bytes) -> int | None:
    """``/Count`` of the root of the page tree of a PDF written in one go
    (one classic cross-reference table, no update); None when the file is
    not laid out like that."""
    trailer = _TRAILER.search(pdf, max(0, len(pdf) - 4096))
    if trailer is None or b"/Prev" in trailer[1] or b"/XRefStm" in trailer[1]:
        return None
    root = _ROOT.search(trailer[1])
    xref_at = int(trailer[2])
    table = _XREF.match(pdf, xref_at)
    if root is None or table is None:
        return None
    entries_at, size = table.end(), int(table[1])

    def body(ref) -> bytes | None:
        number, generation = int(ref[1]), int(ref[2])
        if not 0 < number < size:
            return None
        entry = pdf[entries_at + 20 * number:entries_at + 20 * number + 20]
        if len(entry) != 20 or entry[17:18] != b"n":
            return None
        start = int(entry[:10])
        header = re.compile(rb"%d\s+%d\s+obj\b" % (number, generation)).match(pdf, start)
        end = pdf.find(b"endobj", start)
        if header is None or end < 0:
            return None
        return pdf[header.end():end]

    catalog = body(root)
    pages = _PAGES.findall(catalog) if catalog is not None else []
    if len(pages) != 1:
        return None
    tree = body((None, *pages[0]))
    if tree is None or not _PAGES_TYPE.search(tree):
        return None
    counts = _COUNT.findall(tree)
    return int(counts[0]) if len(counts) == 1 else None


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
