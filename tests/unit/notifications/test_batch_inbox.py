"""The inbox for a batch of document_generated events: one query for those
already processed, one statement to claim many (carpimko/inbox.py,
services/notifications/delivering.py), on a migrated notifications database."""
import pytest
from sqlalchemy import func, select

from carpimko import inbox
from carpimko.db import Database
from carpimko.events import parse_event
from services.notifications import delivering
from services.notifications.models import Inbox
from tests.support import factories


@pytest.fixture
def db(databases):
    database = Database(databases.url("notifications"), pool_size=2)
    yield database
    database.dispose()


def events(count: int, **kwargs):
    return [parse_event(factories.document_generated("1234567", **kwargs)) for _ in range(count)]


def test_not_processed_drops_the_processed_and_the_duplicates_keeping_order(db):
    a, b, c, d = events(4)
    with db.transaction() as session:
        assert delivering.claim(session, b)
    with db.transaction() as session:
        fresh = delivering.not_processed(session, [a, b, c, a, d, c, b])
    assert [e.event_id for e in fresh] == [a.event_id, c.event_id, d.event_id]


def test_not_processed_of_nothing(db):
    with db.transaction() as session:
        assert delivering.not_processed(session, []) == []


def test_claim_all_claims_each_once_and_skips_those_already_there(db):
    a, b, c = events(3, notify=False)
    with db.transaction() as session:
        assert delivering.claim(session, a)
    with db.transaction() as session:
        assert delivering.claim_all(session, [a, b, c, b]) == {b.event_id, c.event_id}
    with db.transaction() as session:
        assert delivering.claim_all(session, [a, b, c]) == set()
        assert delivering.claim_all(session, []) == set()
        assert session.scalar(select(func.count()).select_from(Inbox)) == 3
        assert inbox.processed(session, Inbox, delivering.DOCUMENT_CONSUMER,
                               [a.event_id, "other"]) == {a.event_id}
        # another consumer's claims are its own
        assert inbox.processed(session, Inbox, "someone.else", [a.event_id]) == set()


def test_claim_all_is_part_of_the_callers_transaction(db):
    [a] = events(1)
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            delivering.claim_all(session, [a])
            raise RuntimeError("the batch failed")
    with db.transaction() as session:
        assert delivering.not_processed(session, [a]) == [a]


def test_claim_is_once_and_part_of_the_callers_transaction(db):
    a, b = events(2)
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            assert delivering.claim(session, a)
            raise RuntimeError("the email could not be sent")
    with db.transaction() as session:
        assert delivering.claim(session, a)  # the rolled-back claim left nothing
        assert not delivering.claim(session, a)
    with db.transaction() as session:
        assert not delivering.claim(session, a)
        assert delivering.claim(session, b)
        row = session.get(Inbox, (delivering.DOCUMENT_CONSUMER, a.event_id))
        assert row.processed_at.year >= 2026  # stored through the column's type


def test_a_letter_is_queued_once(db, tmp_path):
    from services.notifications.models import Letter
    contact = {"file_number": "7654321", "full_name": "Jean Dupont",
               "address_lines": ["12 rue des Lilas", "75011 Paris"]}
    with db.transaction() as session:
        delivering.queue_letter(session, "n-1", contact, tmp_path / "a.pdf", 1)
    with db.transaction() as session:  # a retry after the first was committed
        delivering.queue_letter(session, "n-1", {**contact, "full_name": "Autre"},
                                tmp_path / "b.pdf", 2)
    with db.transaction() as session:
        [letter] = session.scalars(select(Letter)).all()
        assert (letter.full_name, letter.path, letter.pages) == ("Jean Dupont",
                                                                 str(tmp_path / "a.pdf"), 1)
        assert letter.batch_id is None and letter.queued_at is not None
        assert delivering.letters_overview(session)["queued"][0]["id"] == "n-1"
