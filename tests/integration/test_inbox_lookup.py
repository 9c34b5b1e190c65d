"""``inbox.processed``: the right answer on both databases, and on
PostgreSQL one lookup of the whole key per id whatever the statistics (it used
to read every row of the consumer when they were stale; docs/benchmarks.md)."""
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session

from carpimko import inbox
from services.documents.models import Inbox

CONSUMER = "documents.on_contributions_recalculated"
OTHER = "documents.on_schedule_changed"


def _record(connection, consumer, ids):
    now = datetime.now(timezone.utc)
    connection.execute(insert(Inbox.__table__),
                       [{"consumer": consumer, "event_id": i, "processed_at": now} for i in ids])


def test_the_events_already_processed_by_this_consumer(databases):
    engine = create_engine(databases.url("documents"))
    done = [str(uuid.uuid4()) for _ in range(30)]
    by_other = [str(uuid.uuid4()) for _ in range(10)]
    fresh = [str(uuid.uuid4()) for _ in range(20)]
    try:
        with engine.begin() as connection:
            _record(connection, CONSUMER, done)
            _record(connection, OTHER, by_other)
        with Session(engine) as session:
            asked = done[:15] + by_other + fresh + done[:3]  # a redelivery twice in the batch
            assert inbox.processed(session, Inbox, CONSUMER, asked) == set(done[:15])
            assert inbox.processed(session, Inbox, OTHER, asked) == set(by_other)
            assert inbox.processed(session, Inbox, CONSUMER, fresh) == set()
            assert inbox.processed(session, Inbox, CONSUMER, []) == set()
    finally:
        engine.dispose()


def _scans_of_inbox(plan: dict):
    if plan.get("Relation Name") == "inbox" or plan.get("Index Name", "").startswith("inbox"):
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans_of_inbox(child)


@pytest.mark.parametrize("statistics", ["none", "taken while the inbox was small"])
def test_each_id_is_looked_up_by_the_whole_key_whatever_the_statistics(databases, statistics):
    url = databases.url("documents")
    if not url.startswith("postgresql"):
        pytest.skip("a PostgreSQL plan")
    engine = create_engine(url)
    try:
        if statistics != "none":
            with engine.begin() as connection:
                _record(connection, CONSUMER, [str(uuid.uuid4()) for _ in range(12)])
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE inbox"))
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO inbox (consumer, event_id, processed_at) "
                "SELECT :consumer, gen_random_uuid()::text, now() FROM generate_series(1, 40000)"),
                {"consumer": CONSUMER})
            ids = sorted(str(uuid.uuid4()) for _ in range(50))
            plan = connection.execute(
                text("EXPLAIN (FORMAT JSON) "
                     + inbox._processed_statement(Inbox.__table__).text),
                {"consumer": CONSUMER, "event_ids": ids}).scalar()[0]["Plan"]
        scans = list(_scans_of_inbox(plan))
        assert scans, plan
        for scan in scans:
            assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), plan
            assert "event_id" in scan.get("Index Cond", ""), plan
            assert "consumer" in scan.get("Index Cond", ""), plan
    finally:
        engine.dispose()
