"""Demo data for the development runner only (never part of a production start).

Three members, password ``Demo-Carpimko-2026!``:
- 1234567, a nurse with a verified email (notifications by email);
- 7654321, a physiotherapist with no email on file (notifications by post);
- 123456789, a survivor's pension recipient (9-digit file number).
Each contributor gets a few years of past declarations and assessments, as
if migrated from the previous system. Claire Martin (1234567) also has a
message thread with the fund, answered by an advisor and not read yet.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from carpimko.db import Database

DEMO_PASSWORD = "Demo-Carpimko-2026!"

MEMBERS = [
    dict(file_number="1234567", civility="Mme", first_name="Claire", last_name="Martin",
         birth_date=date(1978, 4, 12), profession="infirmier", status="active",
         email="claire.martin@example.fr", email_verified=True,
         address_line1="12 rue des Lilas", address_line2=None, postcode="69003", city="Lyon"),
    dict(file_number="7654321", civility="M.", first_name="Jean", last_name="Dupont",
         birth_date=date(1969, 9, 3), profession="masseur-kinésithérapeute", status="active",
         email=None, email_verified=False,
         address_line1="3 chemin du Moulin", address_line2="Lieu-dit Kerhuel",
         postcode="29200", city="Brest"),
    dict(file_number="123456789", civility="Mme", first_name="Odette", last_name="Lefebvre",
         birth_date=date(1951, 2, 20), profession=None, status="survivor",
         email="odette.lefebvre@example.fr", email_verified=True,
         address_line1="8 avenue Jean Jaurès", address_line2=None, postcode="13005",
         city="Marseille"),
]

CONTRIBUTORS = [
    dict(file_number="1234567", profession="infirmier", conventionne=True,
         affiliation_date=date(2006, 7, 1),
         history=[(2024, "38250.00", "38250.00"), (2025, "39800.00", "39800.00")]),
    dict(file_number="7654321", profession="masseur-kinésithérapeute", conventionne=True,
         affiliation_date=date(1995, 1, 1),
         history=[(2024, "52400.00", "50100.00"), (2025, "49750.00", "47900.00")]),
]


def seed_accounts(url: str) -> int:
    from services.accounts.domain.passwords import hash_password
    from services.accounts.models import Member

    created = 0
    db = Database(url, pool_size=1)
    with db.transaction() as session:
        for data in MEMBERS:
            if session.get(Member, data["file_number"]) is None:
                session.add(Member(**data, country="France", password_hash=hash_password(DEMO_PASSWORD),
                                   created_at=datetime.now(timezone.utc)))
                created += 1
    db.dispose()
    return created


def seed_contributions(url: str) -> int:
    from services.contributions.domain import calculation, parameters
    from services.contributions.models import Assessment, AssessmentLine, Contributor, Declaration

    created = 0
    db = Database(url, pool_size=1)
    with db.transaction() as session:
        for data in CONTRIBUTORS:
            if session.get(Contributor, data["file_number"]) is not None:
                continue
            history = data["history"]
            session.add(Contributor(file_number=data["file_number"], profession=data["profession"],
                                    conventionne=data["conventionne"],
                                    affiliation_date=data["affiliation_date"]))
            session.flush()
            for year, income, conventioned in history:
                declared_at = datetime(year + 1, 5, 20, 9, 30, tzinfo=timezone.utc)
                declaration_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo:{data['file_number']}:{year}"))
                session.add(Declaration(id=declaration_id, file_number=data["file_number"], year=year,
                                        professional_income=Decimal(income),
                                        conventioned_income=Decimal(conventioned), source="legacy",
                                        declared_at=declared_at, recorded_at=declared_at))
                session.flush()  # the declaration row must exist before its assessment
                result = calculation.assess(parameters.load_parameters(year), Decimal(income),
                                            Decimal(conventioned), data["conventionne"])
                assessment = Assessment(
                    id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-assessment:{declaration_id}")),
                    declaration_id=declaration_id, file_number=data["file_number"], year=year,
                    status="regularised", is_current=True,
                    parameters_version=result.parameters_version, income_used=result.income_used,
                    income_declared=result.income_declared, conventionne=data["conventionne"],
                    total=result.total, previous_total=None, notes=json.dumps(list(result.notes)),
                    computed_at=declared_at)
                assessment.lines = [
                    AssessmentLine(position=i, scheme=l.scheme, label=l.label, base=l.base,
                                   rate=None if l.rate is None else str(l.rate), fixed=l.fixed,
                                   amount=l.amount) for i, l in enumerate(result.lines)]
                session.add(assessment)
            created += 1
    db.dispose()
    return created


DEMO_THREAD_MESSAGE = "3f6c9d0e-5b1a-4c2e-9f47-1d2e3c4b5a60"
DEMO_REPLY_MESSAGE = "3f6c9d0e-5b1a-4c2e-9f47-1d2e3c4b5a61"


def seed_messaging(url: str) -> int:
    """A thread with a reply for the demo member (once: fixed message ids)."""
    from services.messaging import threads

    db = Database(url, pool_size=1)
    created = 0
    with db.transaction() as session:
        if threads.already_posted(session, DEMO_THREAD_MESSAGE) is None:
            view = threads.start_thread(
                session, "1234567", "prevoyance", "Arrêt de travail de mars",
                "Bonjour, je vous envoie mon arrêt de travail du 3 au 21 mars. "
                "Que dois-je faire d'autre pour mes indemnités journalières ?",
                DEMO_THREAD_MESSAGE, [])
            thread = threads.staff_thread_row(session, view["id"])
            threads.reply(session, {"login": "demo.conseiller", "role": "advisor"}, thread,
                          "Bonjour Madame Martin, nous avons bien reçu votre arrêt de travail. "
                          "Envoyez-nous aussi l'attestation de perte de revenus, depuis cette "
                          "messagerie.", DEMO_REPLY_MESSAGE, [], await_member=True,
                          notify=False)  # history: no email at every demo start
            created = 1
    db.dispose()
    return created


def seed(settings) -> dict:
    return {
        "accounts": seed_accounts(settings.database_url("accounts")),
        "contributions": seed_contributions(settings.database_url("contributions")),
        "messaging": seed_messaging(settings.database_url("messaging")),
    }
