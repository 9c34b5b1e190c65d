"""The yearly call campaign issued a batch at a time (services/contributions/campaigns.call_members and the
service's ``campaign_call``) on a real database: the same calls as one member at a time, one outcome per member
decided under their lock, nothing half done when a batch fails, and bad batches refused with the reason."""
from __future__ import annotations

import json
import threading
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from carpimko.db import Database
from carpimko.errors import InvalidRequest, NotFound
from services.contributions import calls, campaigns, estimates
from services.contributions.models import Assessment, CampaignMember, Contributor, Outbox
from services.contributions.service import ContributionsService
from tests.integration.test_contributions_cycle import declare

AS_OF = date(2026, 1, 5)
YEAR = 2026


def _contributor(number: int, **overrides) -> Contributor:
    fields = dict(file_number=str(number), profession="infirmier", conventionne=number % 2 == 0,
                  affiliation_date=date(2010, 1, 1))
    fields.update(overrides)
    return Contributor(**fields)


@pytest.fixture
def db(databases):
    database = Database(databases.url("contributions"), pool_size=4)
    with database.transaction() as session:
        session.add_all([_contributor(n) for n in range(2000001, 2000013)])
        session.add(_contributor(2000099, affiliation_date=date(2027, 1, 1)))  # affiliated from 2027
    yield database
    database.dispose()


def _start(db) -> str:
    with db.transaction() as session:
        return campaigns.start(session, YEAR)["campaign_id"]


def _calls(db, numbers) -> dict:
    """Each member's current call of the year: what a member is asked, line by line."""
    with db.transaction() as session:
        rows = session.scalars(select(Assessment).where(Assessment.file_number.in_(numbers),
                                                        Assessment.year == YEAR)).all()
        return {a.file_number: (a.status, a.basis, a.income_year, a.trigger, a.campaign_id, a.total, a.is_current,
                                [(l.scheme, l.base, l.amount) for l in a.lines]) for a in rows}


def _events(db, etype="contributions_recalculated") -> list[dict]:
    with db.transaction() as session:
        return [json.loads(body) for body in session.scalars(
            select(Outbox.body).where(Outbox.event_type == etype).order_by(Outbox.id))]


def _progress(db) -> dict:
    with db.transaction() as session:
        return dict(session.execute(select(CampaignMember.file_number, CampaignMember.outcome)).all())


def _service(db):
    nudged = []
    service = SimpleNamespace(db=db, outbox=SimpleNamespace(nudge=lambda: nudged.append(1)),
                              _today=lambda as_of=None: AS_OF)
    return service, nudged


def test_a_batch_issues_the_same_calls_as_one_member_at_a_time(db):
    # two identical halves: members 1-6 are called one by one, 7-12 in one batch; the halves differ by
    # profile within (incomes, an estimate), so the batch must keep each member's own books apart
    for offset in (0, 6):
        declare(db, 2024, "30000.00", date(2025, 5, 20), file_number=str(2000001 + offset))
        declare(db, 2024, "61000.00", date(2025, 5, 20), file_number=str(2000002 + offset))
        declare(db, 2024, "45000.00", date(2025, 5, 20), file_number=str(2000003 + offset))
        declare(db, 2025, "52000.00", date(2025, 12, 20), file_number=str(2000003 + offset))
    cid = _start(db)
    with db.transaction() as session:  # an estimate of 2026 made before the campaign: a call on it already
        estimates.save_estimate(session, "2000004", YEAR, {"1": "1000.00", "2": "1500.00"}, AS_OF)
        estimates.save_estimate(session, "2000010", YEAR, {"1": "1000.00", "2": "1500.00"}, AS_OF)
    one_by_one = {}
    for n in range(2000001, 2000007):
        with db.transaction() as session:
            one_by_one[str(n)] = campaigns.call_member(session, cid, str(n), AS_OF)
    schedules_before = len(_events(db, "schedule_changed"))
    batch = [str(n) for n in (2000012, 2000007, 2000099, 2000009, 2000008, 2000011, 2000010)]
    with db.transaction() as session:
        outcomes = campaigns.call_members(session, cid, batch, AS_OF)

    assert list(outcomes) == batch  # in the order given
    assert one_by_one == {"2000001": "issued", "2000002": "issued", "2000003": "issued",
                          "2000004": "already_called", "2000005": "issued", "2000006": "issued"}
    assert outcomes == {"2000012": "issued", "2000007": "issued", "2000099": "not_affiliated",
                        "2000009": "issued", "2000008": "issued", "2000011": "issued",
                        "2000010": "already_called"}
    singles = _calls(db, [str(n) for n in range(2000001, 2000007)])
    batched = _calls(db, [str(n) for n in range(2000007, 2000013)])
    assert [batched[str(n + 6)] for n in range(2000001, 2000007)] == [singles[str(n)]
                                                                       for n in range(2000001, 2000007)]
    assert batched["2000007"][:5] == ("provisional", "income", 2024, "campaign", cid)
    assert batched["2000010"][3] == "estimate"  # the call the member's own estimate made is left as it is

    campaign_events = [e for e in _events(db) if e["payload"]["trigger"] == "campaign"]
    assert sorted(e["member_id"] for e in campaign_events) == sorted(
        n for n, o in {**one_by_one, **outcomes}.items() if o == "issued")
    with db.transaction() as session:
        rows = {r.file_number: r for r in session.scalars(select(CampaignMember))}
        current = dict(session.execute(select(Assessment.file_number, Assessment.id).where(
            Assessment.year == YEAR, Assessment.is_current.is_(True))).all())
    assert {n: r.outcome for n, r in rows.items()} == {**one_by_one, **outcomes}
    assert all(rows[n].assessment_id == current[n] for n, o in outcomes.items() if o == "issued")
    assert rows["2000099"].assessment_id is None and rows["2000010"].assessment_id is None
    schedules = _events(db, "schedule_changed")[schedules_before:]
    assert sorted(e["member_id"] for e in schedules) == sorted(n for n, o in outcomes.items() if o == "issued")


def test_a_batch_given_again_issues_nothing_and_says_what_was_recorded(db):
    cid = _start(db)
    batch = ["2000001", "2000002", "2000099"]
    with db.transaction() as session:
        first = campaigns.call_members(session, cid, batch, AS_OF)
    events = len(_events(db))
    with db.transaction() as session:
        again = campaigns.call_members(session, cid, batch + ["2000003", "2000001"], AS_OF)

    assert first == {"2000001": "issued", "2000002": "issued", "2000099": "not_affiliated"}
    assert again == {**first, "2000003": "issued"}
    assert len(_events(db)) == events + 1  # only the new member's call
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Assessment)) == 3
    with db.transaction() as session:
        assert campaigns.start(session, YEAR)["done"] == 4


@pytest.mark.parametrize("batch, message", [
    ("2000001", "must be a list of file numbers"),
    (["2000001", 2000002], "must be a list of file numbers"),
    (["2000001", ""], "must be a list of file numbers"),
    (["2000001"] * (campaigns.MAX_BATCH + 1), f"at most {campaigns.MAX_BATCH} members per batch"),
])
def test_a_malformed_batch_is_refused_with_the_reason_and_nothing_is_written(db, batch, message):
    cid = _start(db)
    service, _ = _service(db)
    with pytest.raises(InvalidRequest) as refused:
        ContributionsService.campaign_call(service, cid, batch)
    assert message in refused.value.fields["file_numbers"][0]
    assert _progress(db) == {} and _events(db) == []


def test_a_batch_naming_an_unknown_member_or_campaign_is_refused_whole(db):
    cid = _start(db)
    service, _ = _service(db)
    with pytest.raises(NotFound, match="no contributor 9999999"):
        ContributionsService.campaign_call(service, cid, ["2000001", "9999999", "2000002"])
    with pytest.raises(NotFound, match="no campaign yearly-call-2019"):
        ContributionsService.campaign_call(service, "yearly-call-2019", ["2000001"])
    assert _progress(db) == {} and _events(db) == []


def test_a_failing_member_leaves_no_half_done_batch_and_the_others_are_called_alone(db, monkeypatch):
    cid = _start(db)
    service, nudged = _service(db)
    real_issue = calls.issue

    def issue(ledger, file_number, *args, **kwargs):
        if file_number == "2000003":
            raise RuntimeError("the member's books cannot be read")
        return real_issue(ledger, file_number, *args, **kwargs)

    monkeypatch.setattr(calls, "issue", issue)
    with pytest.raises(RuntimeError, match="books cannot be read"):
        ContributionsService.campaign_call(service, cid, ["2000001", "2000002", "2000003", "2000004"])
    # the batch rolled back whole; taken one at a time, the members before the failing one are done, with
    # their call and its event, the failing one and those after it are not (the next run lists them)
    assert _progress(db) == {"2000001": "issued", "2000002": "issued"}
    assert sorted(e["member_id"] for e in _events(db)) == ["2000001", "2000002"]
    assert nudged

    monkeypatch.setattr(calls, "issue", real_issue)
    assert ContributionsService.campaign_call(service, cid, ["2000001", "2000002", "2000003", "2000004"]) == {
        "2000001": "issued", "2000002": "issued", "2000003": "issued", "2000004": "issued"}
    assert len(_events(db)) == 4


def test_two_runs_at_once_call_each_member_once(db):
    """Under the member's lock: a second run waits for the first's batch, then finds its progress rows."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks (FOR UPDATE) need PostgreSQL")
    cid = _start(db)
    first_holds_locks = threading.Event()
    release_first = threading.Event()
    results = {}

    def first():
        with db.transaction() as session:
            results["first"] = campaigns.call_members(session, cid, ["2000001", "2000002", "2000003"], AS_OF)
            first_holds_locks.set()
            release_first.wait(10)

    def second():
        first_holds_locks.wait(10)
        with db.transaction() as session:
            results["second"] = campaigns.call_members(session, cid, ["2000002", "2000003", "2000004"], AS_OF)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_holds_locks.wait(10)
    threads[1].join(1.0)
    assert threads[1].is_alive()  # waiting for 2000002's lock, held by the first run
    release_first.set()
    for thread in threads:
        thread.join(20)

    assert results["first"] == {"2000001": "issued", "2000002": "issued", "2000003": "issued"}
    assert results["second"] == {"2000002": "issued", "2000003": "issued", "2000004": "issued"}
    with db.transaction() as session:
        per_member = dict(session.execute(select(Assessment.file_number, func.count())
                                          .group_by(Assessment.file_number)).all())
    assert per_member == {"2000001": 1, "2000002": 1, "2000003": 1, "2000004": 1}
    assert len(_events(db)) == 4
