"""``carpimko declarations import FILE``: feed a CSV of income declarations
into the chain as ``income_declared`` events (the same path as members).

CSV header: ``file_number,year,professional_income,conventioned_income``
(amounts in euros, "." or "," as decimal separator; conventioned income may
be empty). Every row is validated; bad rows are reported with their line
number and not published; good rows are published with publisher confirms.
Event and declaration ids are derived from the file's content and the line
number, so importing the same file again is a no-op for the consumers.
"""
from __future__ import annotations

import csv
import hashlib
import sys
import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from carpimko.broker import EventPublisher, declare_topology
from carpimko.events import new_event

from . import csv_rows
from .csv_rows import Rejected

COLUMNS = ("file_number", "year", "professional_income", "conventioned_income")
_NAMESPACE = uuid.UUID("8a3f5b2e-9c1d-4e7f-a6b8-2d4c6e8f0a13")


def _amount(raw: str, name: str, required: bool) -> Decimal | None:
    text = (raw or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not text:
        if required:
            raise ValueError(f"{name} is required")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} {raw!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a positive amount, got {raw!r}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{name} has more than two decimals: {raw!r}")
    if value >= Decimal("100000000"):
        raise ValueError(f"{name} is too large: {raw!r}")
    return value


def validate_row(row: dict, years: tuple[int, ...]) -> dict:
    file_number = csv_rows.file_number(row)
    year = csv_rows.year(row, years)
    income = _amount(row.get("professional_income"), "professional_income", True)
    conventioned = _amount(row.get("conventioned_income"), "conventioned_income", False)
    if conventioned is not None and conventioned > income:
        raise ValueError("conventioned_income cannot exceed professional_income")
    return {"file_number": file_number, "year": year,
            "professional_income": income, "conventioned_income": conventioned}


def read_declarations(path: Path, years: tuple[int, ...]):
    """Yield (line number, validated row or Rejected)."""
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    text = content.decode("utf-8-sig")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SystemExit(f"{path}: line 1: missing column(s) {', '.join(missing)}; "
                         f"expected header: {','.join(COLUMNS)}")
    reader.fieldnames = header
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, digest, Rejected(line, "too many fields")
            continue
        try:
            yield line, digest, validate_row(row, years)
        except ValueError as exc:
            yield line, digest, Rejected(line, str(exc))


def run(path: str, amqp_uri: str, years: tuple[int, ...], dry_run: bool = False,
        progress: bool = True, out=sys.stderr) -> tuple[int, list[Rejected]]:
    from tqdm import tqdm

    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"{path}: no such file")
    total = max(0, sum(1 for _ in file.open("rb")) - 1)
    rejected: list[Rejected] = []
    published = 0
    publisher = None if dry_run else EventPublisher(amqp_uri)
    if publisher is not None:
        declare_topology(amqp_uri)
    now = datetime.now(timezone.utc)
    bar = tqdm(total=total, unit="decl", disable=not progress, file=out)
    try:
        for line, digest, item in read_declarations(file, years):
            bar.update(1)
            if isinstance(item, Rejected):
                rejected.append(item)
                continue
            if publisher is None:
                published += 1
                continue
            key = f"{digest}:{line}"
            declaration_id = str(uuid.uuid5(_NAMESPACE, "declaration:" + key))
            envelope = new_event(
                "income_declared",
                {"declaration_id": declaration_id, "year": item["year"],
                 "professional_income": item["professional_income"],
                 "conventioned_income": item["conventioned_income"], "source": "batch",
                 "declared_at": now},
                member_id=item["file_number"], correlation_id=declaration_id,
                event_id=str(uuid.uuid5(_NAMESPACE, "event:" + key)))
            publisher.publish(envelope)
            published += 1
    finally:
        bar.close()
        if publisher is not None:
            publisher.close()
    return published, rejected
