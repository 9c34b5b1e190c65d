"""Test data: members, contributors and events, written through the services' models."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from carpimko.db import Database
from carpimko.events import new_event

PASSWORD = "Un-Mot-De-Passe-De-Test-2026"


def add_member(url: str, file_number: str, email: str | None = "membre@example.fr",
               password: str = PASSWORD, **overrides) -> None:
    from services.accounts.domain.passwords import hash_password
    from services.accounts.models import Member

    data = dict(file_number=file_number, civility="Mme", first_name="Anne", last_name="Durand",
                birth_date=date(1980, 1, 15), profession="orthophoniste", status="active",
                email=email, email_verified=email is not None,
                address_line1="1 rue de la Paix", address_line2=None, postcode="75002",
                city="Paris", country="France", password_hash=hash_password(password),
                created_at=datetime.now(timezone.utc))
    data.update(overrides)
    db = Database(url, pool_size=1)
    with db.transaction() as session:
        session.add(Member(**data))
    db.dispose()


def add_contributor(url: str, file_number: str, conventionne: bool = True) -> None:
    from services.contributions.models import Contributor

    db = Database(url, pool_size=1)
    with db.transaction() as session:
        session.add(Contributor(file_number=file_number, profession="orthophoniste",
                                conventionne=conventionne, affiliation_date=date(2010, 1, 1)))
    db.dispose()


def income_declared(file_number: str, year: int = 2026, income: str | None = "40000.00",
                    conventioned: str | None = "40000.00", event_id: str | None = None) -> dict:
    declaration_id = str(uuid.uuid4())
    return new_event("income_declared", {
        "declaration_id": declaration_id, "year": year,
        "professional_income": None if income is None else Decimal(income),
        "conventioned_income": None if conventioned is None else Decimal(conventioned),
        "source": "batch", "declared_at": datetime.now(timezone.utc)},
        member_id=file_number, correlation_id=declaration_id, event_id=event_id)


STATEMENT_LINES = [
    {"scheme": "rb_t1", "label": "Régime de base – tranche 1", "base": "40000.00", "rate": "8.73", "fixed": "0.00", "amount": "3492.00"},
    {"scheme": "rb_t2", "label": "Régime de base – tranche 2", "base": "40000.00", "rate": "1.87", "fixed": "0.00", "amount": "748.00"},
    {"scheme": "rc", "label": "Régime complémentaire", "base": "40000.00", "rate": "8.70", "fixed": "0.00", "amount": "3480.00"},
    {"scheme": "asv", "label": "Avantage social vieillesse (part praticien)", "base": "40000.00", "rate": "0.40", "fixed": "224.00", "amount": "384.00"},
    {"scheme": "rid", "label": "Invalidité-décès", "base": "0.00", "rate": None, "fixed": "1022.00", "amount": "1022.00"},
]


def contributions_recalculated(file_number: str, correlation_id: str | None = None, *,
                               previous_total: str | None = None,
                               status: str = "regularised", year: int = 2026,
                               assessment_id: str | None = None, announced_with: str | None = None,
                               also_announced: tuple = ()) -> dict:
    """A call of ``year`` (``also_announced``: the ``(assessment_id, year, status)`` of calls told in its
    message; ``announced_with``: the call whose message tells this one)."""
    correlation_id = correlation_id or str(uuid.uuid4())
    return new_event("contributions_recalculated", {
        "assessment_id": assessment_id or str(uuid.uuid4()),
        "declaration_id": correlation_id if status == "regularised" else None, "year": year,
        "status": status, "parameters_version": "2026.1", "income_used": Decimal("40000"),
        "income_declared": True, "lines": STATEMENT_LINES, "total": Decimal("9126.00"),
        "previous_total": None if previous_total is None else Decimal(previous_total),
        "notes": [], "basis": "income", "income_year": 2026,
        "trigger": "declaration", "changes": None, "surcharge": None,
        "announced_with": announced_with,
        "also_announced": [{"assessment_id": a, "year": y, "status": st} for a, y, st in also_announced]},
        member_id=file_number, correlation_id=correlation_id)


def schedule_changed(file_number: str, correlation_id: str | None = None, *,
                     reason: str = "assessment", caused: bool = True, version: int = 1,
                     total: str = "9126.00", previous_total: str | None = None,
                     event_id: str | None = None) -> dict:
    """A monthly 2026 schedule of ``total`` (the cents left over go first)."""
    from decimal import ROUND_DOWN
    amount = (Decimal(total) / 12).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    leftover = int((Decimal(total) - amount * 12) * 100)
    instalments = [{"number": n, "due_date": date(2026, n, 5),
                    "amount": amount + (Decimal("0.01") if n <= leftover else 0)}
                   for n in range(1, 13)]
    correlation_id = correlation_id or str(uuid.uuid4())
    body = new_event("schedule_changed", {
        "schedule_id": str(uuid.uuid4()), "year": 2026, "frequency": "monthly",
        "version": version, "reason": reason, "total": Decimal(total),
        "previous_total": None if previous_total is None else Decimal(previous_total),
        "credit": Decimal("0.00"), "assessment_id": str(uuid.uuid4()),
        "instalments": instalments},
        member_id=file_number, correlation_id=correlation_id, event_id=event_id)
    if caused:
        body["causation_id"] = str(uuid.uuid4())
    return body


def document_generated(file_number: str, correlation_id: str | None = None, *,
                       notify: bool = True, also_issued: tuple = ()) -> dict:
    return new_event("document_generated", {
        "document_id": str(uuid.uuid4()), "kind": "contribution_statement",
        "title": "Relevé de cotisations 2026", "sha256": "0" * 64,
        "issued_on": date(2026, 11, 28), "notify": notify, "also_issued": list(also_issued)},
        member_id=file_number, correlation_id=correlation_id or str(uuid.uuid4()))
