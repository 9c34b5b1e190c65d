"""``carpimko campaign yearly-call`` against the contributions service on real RabbitMQ and a real database:
run twice, interrupted midway and resumed: one provisional call and one event per member, never two."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from carpimko.db import Database
from services.contributions.models import Assessment, CampaignMember, Contributor, Outbox
from services.contributions.service import ContributionsService
from tests.support import bus
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = [f"{1000000 + n}" for n in range(30)]


@pytest.fixture
def contributions(container_factory, make_config):
    config = make_config("contributions", CONTRIBUTIONS_TODAY="2026-01-02")
    db = Database(config["DATABASE_URL"], pool_size=2)
    with db.transaction() as session:
        session.add_all([Contributor(file_number=n, profession="infirmier", conventionne=False,
                                     affiliation_date=date(2010, 1, 1)) for n in MEMBERS])
    container = container_factory(ContributionsService, config)
    container.start()
    yield config, db
    db.dispose()


def cli(config, *args):
    env = {**os.environ, "CARPIMKO_AMQP_URI": config["AMQP_URI"], "PYTHONPATH": str(ROOT)}
    # Ctrl-C as at a terminal: a test run started in the background (``cmd &``) ignores SIGINT, and its
    # children inherit that, so the interrupt below would never arrive
    return subprocess.Popen([sys.executable, "-m", "ops.cli", "campaign", "yearly-call", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def count(db, query):
    with db.transaction() as session:
        return session.scalar(query)


def recalculated_events(db):
    with db.transaction() as session:
        bodies = session.scalars(select(Outbox.body).where(Outbox.event_type == "contributions_recalculated"))
        return [json.loads(b) for b in bodies]


def test_interrupted_campaign_resumes_and_a_second_run_issues_nothing(contributions):
    config, db = contributions
    spy = bus.EventSpy(config["AMQP_URI"], "contributions_recalculated")
    # 30 members at 10/s: about 3 s; interrupted after about 1 s
    first = cli(config, "--year", "2026", "--rate", "10/s", "--no-progress")
    wait_for(lambda: count(db, select(func.count()).select_from(CampaignMember)) >= 5, timeout=30)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=30)
    assert first.returncode == 130, (out, err)
    assert "run the same command again to resume" in err
    # the batch sent just before the interrupt may still complete in the service (it is then done, and the
    # next run skips it): wait for the count to settle
    settled = []
    def stable():
        settled.append(count(db, select(func.count()).select_from(CampaignMember)))
        time.sleep(0.5)
        return len(settled) >= 2 and settled[-1] == settled[-2]
    wait_for(stable, timeout=30)
    done_after_interrupt = settled[-1]
    assert 5 <= done_after_interrupt < len(MEMBERS)

    second = cli(config, "--year", "2026", "--no-progress")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, (out, err)
    assert f"{len(MEMBERS) - done_after_interrupt} to call" in err
    assert "campaign finished (30/30)" in out

    third = cli(config, "--year", "2026", "--no-progress")
    out, err = third.communicate(timeout=60)
    assert third.returncode == 0, (out, err)
    assert "0 to call" in err and "0 call(s) issued" in out

    # one provisional call per member, each published once on the bus (outbox -> RabbitMQ)
    assert count(db, select(func.count()).select_from(Assessment)) == len(MEMBERS)
    assert count(db, select(func.count(func.distinct(Assessment.file_number)))) == len(MEMBERS)
    events = recalculated_events(db)
    assert sorted(e["member_id"] for e in events) == MEMBERS
    assert {(e["payload"]["status"], e["payload"]["trigger"], e["payload"]["basis"]) for e in events} == {
        ("provisional", "campaign", "no_income")}
    spy.wait(len(MEMBERS), timeout=30)
    time.sleep(1)  # give a duplicate every chance to show up
    assert sorted(e["member_id"] for e in spy.drain()) == MEMBERS
    spy.close()


def test_a_year_without_rules_is_refused_with_the_reason(contributions):
    config, _ = contributions
    run = cli(config, "--year", "2031", "--no-progress")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2, (out, err)
    assert "no contribution rules for 2031" in err


def test_a_bad_rate_is_refused(contributions):
    config, _ = contributions
    run = cli(config, "--year", "2026", "--rate", "fast")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2 and "--rate 'fast'" in err


def test_service_down_is_said_and_nothing_hangs(rabbit_config):
    """No contributions service on the vhost: a clear message and a non-zero exit, quickly."""
    config = {"AMQP_URI": rabbit_config["AMQP_URI"]}
    started = time.monotonic()
    run = cli(config, "--year", "2026", "--no-progress")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1, (out, err)
    assert "the contributions service does not answer" in err and "run the same command again" in err
    assert time.monotonic() - started < 30
