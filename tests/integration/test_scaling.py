"""Several copies of a service share a stream of events as competing
consumers, nothing processed twice; SIGTERM drains a copy without loss."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from carpimko.broker import declare_topology
from carpimko.db import Database
from carpimko.handlers import batch_event_handler
from services.contributions.models import Assessment
from services.contributions.service import ContributionsService
from tests.support import bus, factories
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def make_copy(label: str):
    """The real service, counting what this copy handled."""
    class Copy(ContributionsService):
        handled: list[str] = []

        @batch_event_handler("income_declared")
        def on_income_declared(self, events):
            ContributionsService.on_income_declared(self, events)
            type(self).handled.extend(event.event_id for event in events)

    Copy.__name__ = f"Contributions{label}"
    Copy.handled = []
    return Copy


def assessments(url) -> int:
    db = Database(url, pool_size=1)
    with db.transaction() as session:
        n = session.scalar(select(func.count()).select_from(Assessment))
    db.dispose()
    return n


def test_two_copies_share_the_stream_and_nothing_is_processed_twice(container_factory, make_config):
    config = make_config("contributions", max_workers=2)
    factories.add_contributor(config["DATABASE_URL"], "1234567")
    first, second = make_copy("A"), make_copy("B")
    container_factory(first, config).start()
    container_factory(second, config).start()
    events = [factories.income_declared("1234567", income=f"{30000 + i}.00", conventioned=None) for i in range(60)]
    bus.publish(config["AMQP_URI"], *events)
    wait_for(lambda: assessments(config["DATABASE_URL"]) == 60, timeout=60)
    assert first.handled and second.handled, (len(first.handled), len(second.handled))
    assert sorted(first.handled + second.handled) == sorted(e["event_id"] for e in events)


def test_sigterm_drains_a_copy_and_loses_nothing(make_config, tmp_path):
    config = make_config("contributions")
    factories.add_contributor(config["DATABASE_URL"], "1234567")
    env = dict(os.environ, CARPIMKO_AMQP_URI=config["AMQP_URI"],
               CARPIMKO_CONTRIBUTIONS_DATABASE_URL=config["DATABASE_URL"],
               CARPIMKO_DATA_DIR=str(tmp_path), CARPIMKO_LOG_LEVEL="WARNING",
               CARPIMKO_SHUTDOWN_TIMEOUT="15")

    def start():
        return subprocess.Popen([sys.executable, "-m", "ops.serve", "contributions"], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    declare_topology(config["AMQP_URI"])  # as deployment does: queues exist before events
    copy = start()
    events = [factories.income_declared("1234567", income=f"{40000 + i}.00", conventioned=None) for i in range(300)]
    bus.publish(config["AMQP_URI"], *events)
    wait_for(lambda: assessments(config["DATABASE_URL"]) > 0, timeout=30)
    copy.send_signal(signal.SIGTERM)
    assert copy.wait(30) == 0, copy.stderr.read().decode()[-2000:]
    done_before_restart = assessments(config["DATABASE_URL"])
    copy = start()
    try:
        wait_for(lambda: assessments(config["DATABASE_URL"]) == 300, timeout=120)
    finally:
        copy.send_signal(signal.SIGTERM)
        copy.wait(30)
    assert 0 < done_before_restart <= 300
    assert bus.dead_letters(config["AMQP_URI"], "income_declared", "contributions",
                            "on_income_declared") == []
