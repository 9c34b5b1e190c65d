"""``payments.schedules`` (asked by every dashboard) reads every year's payments
in one query, and reads payment plans and formal notices only when a year is
in arrears; its answer is the same as each year's own view."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event

from carpimko.db import Database
from carpimko.events import parse_event
from services.contributions import declarations, payments
from services.contributions.domain import parameters
from services.contributions.models import Contributor, Payment, PaymentSchedule, ScheduledInstalment
from tests.support.statements import executed

MEMBER = "1234567"


@pytest.fixture
def db(databases):
    database = Database(databases.url("contributions"), pool_size=2)
    with database.transaction() as session:
        session.add(Contributor(file_number=MEMBER, profession="infirmier", conventionne=True,
                                affiliation_date=date(2010, 1, 1)))
    yield database
    database.dispose()


def declare(db, year, income, as_of, minute):
    from tests.support import factories
    body = factories.income_declared(MEMBER, year=year, income=income, conventioned=income)
    body["payload"]["declared_at"] = (datetime(2026, 1, 1, tzinfo=timezone.utc)
                                      + timedelta(minutes=minute)).isoformat()
    with db.transaction() as session:
        declarations.assess_declared_income(session, parse_event(body), as_of=as_of)


def pay(db, reference, year, amount, paid_on):
    with db.transaction() as session:
        session.add(Payment(reference=reference, file_number=MEMBER, year=year, amount=Decimal(amount),
                            paid_on=paid_on, source="bank", recorded_at=datetime.now(timezone.utc)))


@contextmanager
def selects(db):
    """The SELECT statements run on ``db`` inside the block (a list, filled as they run)."""
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def read(db, day):
    """schedules() as of ``day``, and the SELECT statements it ran."""
    with selects(db) as statements, db.transaction() as session:
        view = payments.schedules(session, MEMBER, day)
    return view, statements


def test_every_years_payments_in_one_query_and_no_recovery_reads_when_up_to_date(db):
    declare(db, 2025, "30000.00", date(2025, 1, 1), 1)
    declare(db, 2026, "40000.00", date(2026, 1, 1), 2)
    day = date(2026, 1, 20)
    with db.transaction() as session:
        dues = {y: [i for i in payments.get_schedule(session, MEMBER, y, day)["instalments"]
                    if i["due_date"] <= day.isoformat()] for y in (2025, 2026)}
    for year, due in dues.items():  # everything due so far is paid: up to date
        for n, instalment in enumerate(due):
            pay(db, f"{year}-{n}", year, instalment["amount"], date.fromisoformat(instalment["due_date"]))
    pay(db, "later", 2026, "10.00", date(2026, 3, 1))  # after the day: not counted

    view, statements = read(db, day)
    assert view["up_to_date"] and view["reason"] == "up_to_date"
    assert [y["year"] for y in view["schedules"]] == [2026, 2025]
    with db.transaction() as session:  # the same as each year's own view (its own payments query)
        assert view["schedules"] == [payments.get_schedule(session, MEMBER, y, day) for y in (2026, 2025)]
    assert sum(len(dues[y]) for y in dues) == sum(len(y["payments"]) for y in view["schedules"])
    assert sum(" payments" in s for s in statements) == 1
    assert not any("payment_plans" in s or "formal_notices" in s for s in statements)
    assert len(statements) == 3  # schedules, their instalments, the payments


def test_plans_and_notices_are_read_when_a_year_is_late(db):
    declare(db, 2026, "40000.00", date(2026, 1, 1), 1)
    view, statements = read(db, date(2026, 4, 20))
    assert not view["up_to_date"] and view["reason"] == "arrears"
    assert any("payment_plans" in s for s in statements)
    assert any("formal_notices" in s for s in statements)


def test_the_dashboards_declarations_carry_totals_without_lines_in_two_queries(db):
    declare(db, 2024, "30000.00", date(2026, 11, 1), 1)
    declare(db, 2025, "42000.00", date(2026, 11, 1), 2)
    with selects(db) as statements, db.transaction() as session:
        summary = declarations.list_declarations(session, MEMBER, detail=False)
    with db.transaction() as session:
        full = declarations.list_declarations(session, MEMBER)
    assert len(statements) == 2  # declarations, their assessments: no lines
    assert [d["year"] for d in summary] == [2025, 2024]
    for short, long in zip(summary, full):
        assert "lines" not in short["assessment"] and "notes" not in short["assessment"]
        assert long["assessment"]["lines"]
        assert short == {**long, "assessment": {k: v for k, v in long["assessment"].items()
                                                if k not in ("lines", "notes")}}


def test_the_dashboards_reads_are_statements_built_once(db):
    """Built once per process (not per call, as they were: building a statement
    and its cache key was a good part of the dashboard's CPU in this service)."""
    declare(db, 2024, "30000.00", date(2026, 11, 1), 1)
    declare(db, 2025, "42000.00", date(2026, 11, 1), 2)
    pay(db, "p1", 2026, "10.00", date(2026, 2, 1))
    for _ in range(2):
        with executed(db.engine) as statements, db.transaction() as session:
            declarations.list_declarations(session, MEMBER, detail=False)
            payments.schedules(session, MEMBER, date(2026, 11, 20))
        assert [s for s, _sql in statements][:5] == [
            declarations.DECLARATION_SUMMARIES, declarations.ASSESSMENT_SUMMARIES,
            payments.SCHEDULES, payments.INSTALMENTS, payments.PAYMENTS_BY_YEAR]


def test_the_parameter_folder_is_not_listed_for_years_that_have_a_file(db, monkeypatch):
    declare(db, 2025, "30000.00", date(2025, 1, 1), 1)
    with db.transaction() as session:
        expected = payments.schedules(session, MEMBER, date(2025, 6, 1))

    def listed(*_args, **_kwargs):
        raise AssertionError("the parameter folder was listed")
    monkeypatch.setattr(parameters, "available_years", listed)
    with db.transaction() as session:
        assert payments.schedules(session, MEMBER, date(2025, 6, 1)) == expected


def test_a_year_without_a_parameter_file_is_shown_with_the_latest_years(db):
    latest = max(parameters.available_years())
    with db.transaction() as session:
        row = PaymentSchedule(id="s-future", file_number=MEMBER, year=latest + 3,
                              frequency="monthly", total=Decimal("1200.00"), credit=Decimal("0.00"),
                              version=1, updated_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
        session.add(row)
        session.flush()
        for n in range(1, 13):
            session.add(ScheduledInstalment(schedule_id="s-future", number=n,
                                            due_date=date(latest + 3, n, 5), amount=Decimal("100.00")))
    with db.transaction() as session:
        view = payments.schedules(session, MEMBER, date(latest + 3, 3, 10))
        own = payments.get_schedule(session, MEMBER, latest + 3, date(latest + 3, 3, 10))
    assert view["schedules"] == [own]
    assert [i["number"] for i in own["instalments"]] == list(range(1, 13))
    assert not view["up_to_date"] and view["late_years"] == [latest + 3]
