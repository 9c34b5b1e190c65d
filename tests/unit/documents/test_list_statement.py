"""The member's document list (asked by every dashboard) is one statement built
once, of the listed columns: no snapshot decoded, the same view as each
document's own."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from carpimko.db import Database
from services.documents import issuing
from services.documents.models import Document
from tests.support.statements import executed

MEMBER = "1234567"


@pytest.fixture
def db(databases):
    database = Database(databases.url("documents"), pool_size=2)
    start = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    with database.transaction() as session:
        for n, (kind, member) in enumerate([("contribution_statement", MEMBER),
                                            ("payment_schedule", MEMBER),
                                            ("notification_letter", MEMBER),  # a letter: not listed
                                            ("contribution_statement", "7654321")]):
            session.add(Document(
                id=f"00000000-0000-4000-8000-00000000000{n}", file_number=member, kind=kind,
                title=f"Document {n}", year=2026, correlation_id=f"c{n}", source_event_id=f"e{n}",
                sha256=None if n == 0 else "a" * 64, size=None if n == 0 else 1234,
                issued_on=date(2026, 11, 1), created_at=start + timedelta(minutes=n),
                superseded_by="00000000-0000-4000-8000-000000000001" if n == 0 else None,
                snapshot={"data": {"big": "x" * 2000}} if n == 0 else None))
    yield database
    database.dispose()


def test_one_statement_built_once_without_the_snapshot(db):
    for _ in range(2):
        with executed(db.engine) as statements, db.transaction() as session:
            listed = issuing.list_documents(session, MEMBER)
        assert [s for s, _sql in statements] == [issuing.LIST_DOCUMENTS]
        assert "snapshot" not in statements[0][1]
    assert [d["kind"] for d in listed] == ["payment_schedule", "contribution_statement"]


def test_the_same_views_as_the_documents_own(db):
    with db.transaction() as session:
        listed = issuing.list_documents(session, MEMBER)
        own = [issuing.document_view(d) for d in session.scalars(
            select(Document).where(Document.file_number == MEMBER,
                                   Document.kind.not_in(issuing.LETTER_KINDS))
            .order_by(Document.created_at.desc()))]
    assert listed == own
    assert listed[1]["superseded"] is True and listed[1]["sha256"] is None
