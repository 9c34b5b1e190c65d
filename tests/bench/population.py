"""A bench population: ``count`` members written straight into a running
suite's accounts and contributions databases (one multi-row INSERT per table,
seconds for 20,000), so a benchmark measures the chain, not the seeding.

File numbers 3000000 + i; every fifth member has no email (notified by post,
as the fund's members without an email are), the others
``m<file number>@bench.example``; a quarter are not conventionnés. They share
one password hash (argon2 per member would take minutes and measures nothing
here)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import insert

from carpimko.db import Database

FIRST = 3_000_000
POST_EVERY = 5


def file_numbers(count: int) -> list[str]:
    return [str(FIRST + i) for i in range(count)]


def email_of(file_number: str) -> str | None:
    return None if int(file_number) % POST_EVERY == 0 else f"m{file_number}@bench.example"


def seed(accounts_url: str, contributions_url: str, count: int, password: str) -> list[str]:
    from services.accounts.domain.passwords import hash_password
    from services.accounts.models import Member
    from services.contributions.models import Contributor

    numbers = file_numbers(count)
    now = datetime.now(timezone.utc)
    password_hash = hash_password(password)
    members = [dict(file_number=n, civility="Mme", first_name="Membre", last_name=f"Banc {n}",
                    birth_date=date(1970 + int(n) % 30, 1 + int(n) % 12, 1 + int(n) % 28),
                    profession="infirmier", status="active", email=email_of(n),
                    email_verified=email_of(n) is not None, prefers_paper=False,
                    address_line1=f"{1 + int(n) % 200} rue du Banc d'essai", address_line2=None,
                    postcode="75011", city="Paris", country="France", password_hash=password_hash,
                    created_at=now) for n in numbers]
    contributors = [dict(file_number=n, profession="infirmier", conventionne=int(n) % 4 != 0,
                         affiliation_date=date(2010, 1, 1)) for n in numbers]
    for url, model, rows in ((accounts_url, Member, members),
                             (contributions_url, Contributor, contributors)):
        db = Database(url, pool_size=1)
        with db.transaction() as session:
            for start in range(0, len(rows), 2000):
                session.execute(insert(model), rows[start:start + 2000])
        db.dispose()
    return numbers
