"""Transactional outbox, inbox and the Money column on a migrated SQLite database
(the contributions service's tables)."""
import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from carpimko import inbox, outbox
from carpimko.db import Database
from carpimko.events import new_event
from services.contributions.models import Declaration, Inbox, Outbox


@pytest.fixture
def db(databases):
    database = Database(databases.url("contributions"), pool_size=2)
    yield database
    database.dispose()


def event(n: int) -> dict:
    return new_event("income_declared", {
        "declaration_id": str(uuid.uuid4()), "year": 2026,
        "professional_income": Decimal(n), "conventioned_income": None, "source": "batch",
        "declared_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}, member_id="1234567")


def stage(db, count: int) -> list[dict]:
    envelopes = [event(1000 + i) for i in range(count)]
    with db.transaction() as session:
        for envelope in envelopes:
            outbox.add(session, Outbox, envelope)
    return envelopes


def rows(db):
    with db.transaction() as session:
        return [(r.event_id, r.status, r.published_at is not None, r.event_type)
                for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def test_add_stages_a_pending_row_with_the_exact_envelope(db):
    [envelope] = stage(db, 1)
    with db.transaction() as session:
        row = session.scalars(select(Outbox)).one()
        assert row.event_id == envelope["event_id"]
        assert row.event_type == "income_declared"
        assert row.status == outbox.PENDING
        assert row.published_at is None
        assert row.created_at is not None
        assert json.loads(row.body) == envelope
    assert outbox.pending_count(db, Outbox) == 1


def test_add_is_part_of_the_callers_transaction(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            outbox.add(session, Outbox, event(1))
            session.flush()
            raise RuntimeError("state change failed")
    assert rows(db) == []


def test_relay_publishes_in_id_order_and_marks_published(db):
    envelopes = stage(db, 3)
    published = []
    assert outbox.relay_batch(db, Outbox, published.append) == 3
    assert published == envelopes  # same dicts, oldest first
    assert rows(db) == [(e["event_id"], "published", True, "income_declared") for e in envelopes]
    assert outbox.pending_count(db, Outbox) == 0
    # nothing left: a second run publishes nothing
    assert outbox.relay_batch(db, Outbox, published.append) == 0
    assert len(published) == 3


def test_failed_publish_leaves_every_row_pending_and_a_later_run_sends_them(db):
    envelopes = stage(db, 3)
    attempts = []

    def flaky(envelope):
        attempts.append(envelope["event_id"])
        if len(attempts) == 2:
            raise ConnectionError("broker gone")

    with pytest.raises(ConnectionError):
        outbox.relay_batch(db, Outbox, flaky)
    assert attempts == [e["event_id"] for e in envelopes[:2]]
    assert [status for _, status, _, _ in rows(db)] == ["pending"] * 3
    assert outbox.pending_count(db, Outbox) == 3

    published = []
    assert outbox.relay_batch(db, Outbox, published.append) == 3
    assert [e["event_id"] for e in published] == [e["event_id"] for e in envelopes]
    assert outbox.pending_count(db, Outbox) == 0


def test_relay_respects_the_limit(db):
    envelopes = stage(db, 5)
    published = []
    assert outbox.relay_batch(db, Outbox, published.append, limit=2) == 2
    assert published == envelopes[:2]
    assert outbox.pending_count(db, Outbox) == 3
    assert outbox.relay_batch(db, Outbox, published.append, limit=2) == 2
    assert outbox.relay_batch(db, Outbox, published.append, limit=2) == 1
    assert published == envelopes
    assert outbox.relay_batch(db, Outbox, published.append, limit=2) == 0


def test_relay_skips_rows_already_published(db):
    first = stage(db, 2)
    outbox.relay_batch(db, Outbox, lambda e: None)
    later = stage(db, 1)
    published = []
    assert outbox.relay_batch(db, Outbox, published.append) == 1
    assert published == later
    assert [r[1] for r in rows(db)] == ["published"] * 3
    assert [r[0] for r in rows(db)] == [e["event_id"] for e in first + later]


def test_inbox_claim_once_per_consumer(db):
    with db.transaction() as session:
        assert inbox.claim(session, Inbox, "contributions.a", "evt-1") is True
    with db.transaction() as session:
        assert inbox.claim(session, Inbox, "contributions.a", "evt-1") is False
        assert inbox.claim(session, Inbox, "contributions.b", "evt-1") is True
        assert inbox.claim(session, Inbox, "contributions.a", "evt-2") is True
    with db.transaction() as session:
        claimed = sorted(session.execute(select(Inbox.consumer, Inbox.event_id)).all())
        assert claimed == [("contributions.a", "evt-1"), ("contributions.a", "evt-2"),
                           ("contributions.b", "evt-1")]
        assert all(r.processed_at is not None for r in session.scalars(select(Inbox)))


def test_inbox_claim_within_one_transaction(db):
    with db.transaction() as session:
        assert inbox.claim(session, Inbox, "c", "evt") is True
        assert inbox.claim(session, Inbox, "c", "evt") is False


def test_rolled_back_claim_can_be_claimed_again(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            assert inbox.claim(session, Inbox, "c", "evt") is True
            raise RuntimeError("handler failed")
    with db.transaction() as session:
        assert inbox.claim(session, Inbox, "c", "evt") is True


@pytest.mark.parametrize("value, stored", [
    (Decimal("12543.66"), "12543.66"),
    (Decimal("0.1"), "0.10"),
    (Decimal("99999999.99"), "99999999.99"),
    (Decimal("40000"), "40000.00"),
])
def test_money_column_round_trips_decimals_exactly(db, value, stored):
    with db.transaction() as session:
        session.add(Declaration(id="d1", file_number="1234567", year=2026,
                                professional_income=value, conventioned_income=None,
                                source="batch", declared_at=datetime.now(timezone.utc),
                                recorded_at=datetime.now(timezone.utc)))
    with db.transaction() as session:
        row = session.get(Declaration, "d1")
        assert isinstance(row.professional_income, Decimal)
        assert row.professional_income == value
        assert str(row.professional_income) == stored
        assert row.conventioned_income is None
        raw = session.execute(text("SELECT professional_income FROM declarations")).scalar()
        assert not isinstance(raw, float)  # text on SQLite, NUMERIC on PostgreSQL
        assert str(raw) == stored


def test_money_column_sums_of_cents_stay_exact(db):
    amounts = [Decimal("0.10"), Decimal("0.20"), Decimal("12543.66")]
    with db.transaction() as session:
        for i, amount in enumerate(amounts):
            session.add(Declaration(id=f"d{i}", file_number="1234567", year=2026,
                                    professional_income=amount, conventioned_income=amount,
                                    source="batch", declared_at=datetime.now(timezone.utc),
                                    recorded_at=datetime.now(timezone.utc)))
    with db.transaction() as session:
        total = sum(session.scalars(select(Declaration.professional_income)))
    assert total == Decimal("12543.96")
