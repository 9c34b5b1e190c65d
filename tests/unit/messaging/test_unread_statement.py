"""The dashboard's unread messages: one statement built once whatever the
number of threads, and the same rule as a thread's own ``unread``: a reply of
the fund after the member last read the thread (or never read)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from carpimko.db import Database
from services.messaging import threads
from services.messaging.models import Message, Thread
from tests.support.statements import executed

MEMBER = "1234567"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def db(databases):
    database = Database(databases.url("messaging"), pool_size=2)
    # name: (updated, member read at, [(author kind, minute)])
    cases = {
        "reply-after-reading": (10, 5, [("member", 1), ("fund", 6)]),
        "never-read": (9, None, [("fund", 2)]),
        "read-after-reply": (8, 7, [("member", 1), ("fund", 6)]),
        "only-member-and-notes": (7, None, [("member", 1), ("note", 3)]),
        "reply-before-reading": (6, 4, [("fund", 3)]),
        "another-reply-after": (5, 1, [("fund", 2)]),
        "latest-of-four": (11, None, [("fund", 1)]),
    }
    with database.transaction() as session:
        for name, (updated, read, messages) in cases.items():
            session.add(Thread(id=name, file_number=MEMBER, category="autre", subject=name,
                               status="answered", created_at=at(0), updated_at=at(updated),
                               member_read_at=None if read is None else at(read)))
            session.flush()
            for n, (kind, minute) in enumerate(messages):
                session.add(Message(id=f"{name}-{n}", thread_id=name, author_kind=kind,
                                    author="x", body="...", created_at=at(minute)))
        session.add(Thread(id="someone-else", file_number="7654321", category="autre",
                           subject="x", status="open", created_at=at(0), updated_at=at(12)))
        session.flush()
        session.add(Message(id="else-0", thread_id="someone-else", author_kind="fund",
                            author="x", body="...", created_at=at(1)))
    yield database
    database.dispose()


def test_one_statement_built_once_whatever_the_threads(db):
    for _ in range(2):
        with executed(db.engine) as statements, db.transaction() as session:
            summary = threads.unread(session, MEMBER)
        assert [s for s, _sql in statements] == [threads.UNREAD_THREADS]
    assert summary["count"] == 4
    assert [m["url"] for m in summary["latest"]] == [
        "/messages/latest-of-four", "/messages/reply-after-reading", "/messages/never-read"]


def test_the_same_rule_as_each_threads_own(db):
    with db.transaction() as session:
        summary = threads.unread(session, MEMBER, limit=10)
        own = [t.id for t in session.query(Thread).filter(Thread.file_number == MEMBER)
               .order_by(Thread.updated_at.desc()) if threads._unread(session, t)]
    assert [m["url"].rsplit("/", 1)[1] for m in summary["latest"]] == own == [
        "latest-of-four", "reply-after-reading", "never-read", "another-reply-after"]
    assert summary["latest"][0]["received_at"] == at(11).isoformat()
