"""Accounts unit fixtures: a migrated accounts database (SQLite, or PostgreSQL
with --database-url) with two members, and cheap argon2 parameters."""
from datetime import date, datetime, timezone

import pytest
from argon2 import PasswordHasher

from carpimko.db import Database
from services.accounts.domain import passwords
from services.accounts.models import Member

OLD_PASSWORD = "Ancien-mot-de-passe-valable"


@pytest.fixture
def cheap_argon2(monkeypatch):
    hasher = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH",
                        hasher.hash("not-a-real-password-used-for-constant-time"))


def add_member(database, file_number, email=None, **overrides):
    data = dict(file_number=file_number, civility="Mme", first_name="Hélène",
                last_name="Lefèvre-Martin", birth_date=date(1975, 3, 9), profession="infirmier",
                status="active", email=email, email_verified=email is not None,
                address_line1="3 place du Marché", address_line2=None, postcode="69003",
                city="Lyon", country="France", password_hash=passwords.hash_password(OLD_PASSWORD),
                created_at=datetime.now(timezone.utc))
    data.update(overrides)
    with database.transaction() as session:
        session.add(Member(**data))


@pytest.fixture
def accounts_db(databases, cheap_argon2):
    database = Database(databases.url("accounts"), pool_size=2)
    add_member(database, "1234567", email="helene@example.fr")
    add_member(database, "7654321", email=None, password_hash=None)
    yield database
    database.dispose()
