"""``carpimko payments import FILE``: record the payments of a bank batch file (CSV).

CSV header: ``reference,file_number,year,amount,paid_on`` — the bank's unique reference of the payment, the
member's file number, the contribution year it pays, the amount in euros ("." or "," as decimal separator, more
than 0) and the date it was received (YYYY-MM-DD or DD/MM/YYYY). Every row is validated; bad rows are reported
with their line number and not published; a reference seen twice in the file is reported on its second line.
Good rows are published as ``payment_received`` events (publisher confirms) consumed by the contributions
service. The event id is derived from the bank reference, and the service stores each reference once, so
importing the same file again (or a file overlapping an earlier one) records nothing twice.
"""
from __future__ import annotations

import csv
import re
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from carpimko.broker import EventPublisher, declare_topology
from carpimko.events import new_event

from . import csv_rows
from .csv_rows import Rejected

COLUMNS = ("reference", "file_number", "year", "amount", "paid_on")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
_NAMESPACE = uuid.UUID("3f1c9a4e-7b2d-4c8e-9f10-6a5b4c3d2e1f")


def _amount(raw: str) -> Decimal:
    text = (raw or "").strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "").replace(",", ".")
    if not text:
        raise ValueError("amount is required")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"amount {raw!r} is not an amount") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"amount must be more than 0, got {raw!r}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"amount has more than two decimals: {raw!r}")
    if value >= Decimal("100000000"):
        raise ValueError(f"amount is too large: {raw!r}")
    return value


def _date(raw: str) -> date:
    text = (raw or "").strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"paid_on {raw!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")


def validate_row(row: dict, years: tuple[int, ...]) -> dict:
    reference = (row.get("reference") or "").strip()
    if not _REFERENCE.fullmatch(reference):
        raise ValueError(f"reference {reference!r} must be 1 to 64 letters, digits or . _ / -")
    file_number = csv_rows.file_number(row)
    year = csv_rows.year(row, years)
    amount = _amount(row.get("amount"))
    paid_on = _date(row.get("paid_on"))
    return {"reference": reference, "file_number": file_number, "year": year, "amount": amount,
            "paid_on": paid_on}


def read_payments(path: Path, years: tuple[int, ...]):
    """Yield (line number, validated row or Rejected)."""
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SystemExit(f"{path}: line 1: missing column(s) {', '.join(missing)}; "
                         f"expected header: {','.join(COLUMNS)}")
    reader.fieldnames = header
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, Rejected(line, "too many fields")
            continue
        try:
            item = validate_row(row, years)
        except ValueError as exc:
            yield line, Rejected(line, str(exc))
            continue
        if item["reference"] in seen:
            yield line, Rejected(line, f"reference {item['reference']!r} already on line {seen[item['reference']]}")
            continue
        seen[item["reference"]] = line
        yield line, item


def run(path: str, amqp_uri: str, years: tuple[int, ...], dry_run: bool = False) -> tuple[int, list[Rejected]]:
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"{path}: no such file")
    rejected: list[Rejected] = []
    published = 0
    publisher = None if dry_run else EventPublisher(amqp_uri)
    if publisher is not None:
        declare_topology(amqp_uri)
    try:
        for _line, item in read_payments(file, years):
            if isinstance(item, Rejected):
                rejected.append(item)
                continue
            if publisher is not None:
                event_id = str(uuid.uuid5(_NAMESPACE, "payment:" + item["reference"]))
                publisher.publish(new_event(
                    "payment_received",
                    {"reference": item["reference"], "year": item["year"], "amount": item["amount"],
                     "paid_on": item["paid_on"], "source": "bank_file"},
                    member_id=item["file_number"], event_id=event_id, correlation_id=event_id))
            published += 1
    finally:
        if publisher is not None:
            publisher.close()
    return published, rejected
