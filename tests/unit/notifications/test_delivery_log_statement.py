"""The member's latest deliveries (asked by every dashboard): one statement
built once, the newest ``limit`` first, the same views as before."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from carpimko.db import Database
from services.notifications import delivering
from services.notifications.models import Notification
from tests.support.statements import executed

MEMBER = "1234567"


@pytest.fixture
def db(databases):
    database = Database(databases.url("notifications"), pool_size=2)
    start = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    with database.transaction() as session:
        for n in range(5):
            session.add(Notification(
                id=f"n{n}", delivery_key=f"k{n}", file_number=MEMBER if n < 4 else "7654321",
                channel="email" if n % 2 else "post", kind="contribution_statement",
                document_id=f"d{n}", correlation_id=f"c{n}", reference=f"r{n}", status="sent",
                sent_at=start + timedelta(minutes=n), title=f"Relevé {n}", note="" if n % 2 else "poste"))
    yield database
    database.dispose()


def test_one_statement_built_once(db):
    for limit in (3, 2):
        with executed(db.engine) as statements, db.transaction() as session:
            log = delivering.delivery_log(session, MEMBER, limit)
        assert [s for s, _sql in statements] == [delivering.DELIVERY_LOG]
        assert [n["id"] for n in log] == ["n3", "n2", "n1"][:limit]


def test_the_same_views_as_each_notifications_own(db):
    with db.transaction() as session:
        log = delivering.delivery_log(session, MEMBER, 100)
        own = [delivering.notification_view(n) for n in session.scalars(
            select(Notification).where(Notification.file_number == MEMBER)
            .order_by(Notification.sent_at.desc()))]
    assert log == own and len(log) == 4
