"""What a batch of calls reads and writes: the members' books, loaded in a few queries and written back in one
multi-row statement per table (service layer, SQLAlchemy Core).

Why: issuing the calls of a declaration through the ORM one row at a time cost about 33 SQL statements per
declaration (the member's row locked three times, the current call looked up four times, every outbox event,
assessment and schedule inserted and flushed on its own, a SAVEPOINT per new schedule), and the ORM's unit of
work around each of them cost more CPU than the calculation itself (profiled, docs/benchmarks.md).

A :class:`Ledger` is the state of a set of members for the years a batch may call, read at the start of the
caller's transaction:

- the members' contributor rows, locked ``FOR UPDATE`` in file-number order (the lock that serialises every
  call of a member: a declaration, the campaign, an estimate; two batches lock in the same order, so they
  cannot deadlock; every call is issued under it, which is why the current call needs no lock of its own);
- all their declarations, the current call of each year concerned (with its lines) and the calls made on an
  estimate (for the estimate surcharge), the calls of the declarations given (already assessed?);
- their schedules of those years with their instalments, locked ``FOR UPDATE`` (a change of frequency locks
  the schedule, not the member); their monthly estimates, read when a call first needs them.

Calls are then computed one after the other on this state (``calls.issue``), each seeing what the previous ones
of the batch did, exactly as if they had been issued and flushed one at a time; :meth:`Ledger.write` stores what
they produced. Rows are only ever added, except what the calls already changed before: the previous call of a
year marked not current, a schedule's totals and version, and its instalments due from ``as_of`` replaced
(history, the instalments already due, is never touched).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import Integer, String, delete, insert, or_, select, update, values
from sqlalchemy.orm import Session
from sqlalchemy.sql import column

from carpimko import outbox
from carpimko.db import Money

from .domain import schedule
from .models import (Assessment, AssessmentLine, Contributor, Declaration, IncomeEstimate, Outbox, PaymentSchedule,
                     ScheduledInstalment)

CONTRIBUTORS = Contributor.__table__
DECLARATIONS = Declaration.__table__
ASSESSMENTS = Assessment.__table__
LINES = AssessmentLine.__table__
ESTIMATES = IncomeEstimate.__table__
SCHEDULES = PaymentSchedule.__table__
INSTALMENTS = ScheduledInstalment.__table__


@dataclass
class Member:
    file_number: str
    conventionne: bool
    affiliation_date: date | None


@dataclass
class DeclarationRow:
    id: str
    file_number: str
    year: int
    professional_income: Decimal | None
    conventioned_income: Decimal | None
    source: str
    declared_at: datetime
    recorded_at: datetime


@dataclass
class Line:
    position: int
    scheme: str
    label: str
    base: Decimal
    rate: str | None
    fixed: Decimal
    amount: Decimal


@dataclass
class Call:
    """An assessment (a call of a member's year), stored or issued in this batch: the attributes of
    ``models.Assessment`` that ``overview.changes`` and the events read."""

    id: str
    declaration_id: str | None
    file_number: str
    year: int
    status: str
    is_current: bool
    parameters_version: str
    income_used: Decimal
    income_declared: bool
    conventionne: bool
    total: Decimal
    previous_total: Decimal | None
    notes: str
    computed_at: datetime
    basis: str | None
    income_year: int | None
    trigger: str | None
    cause_declaration_id: str | None
    campaign_id: str | None
    surcharge: Decimal | None
    lines: list[Line] = field(default_factory=list)
    stored: bool = True


@dataclass
class Schedule:
    """A payment schedule row and its instalments (``domain.schedule.Instalment``), stored or new."""

    id: str
    file_number: str
    year: int
    frequency: str
    total: Decimal
    credit: Decimal
    version: int
    assessment_id: str | None
    updated_at: datetime
    instalments: tuple = ()
    stored: bool = True
    changed: bool = False


_CALL_COLUMNS = list(ASSESSMENTS.c)
_CALL_FIELDS = [c.name for c in _CALL_COLUMNS]
_SCHEDULE_FIELDS = ["id", "file_number", "year", "frequency", "total", "credit", "version", "assessment_id",
                    "updated_at"]


def _utc(value: datetime) -> datetime:
    """Aware, for ordering (SQLite gives timestamps back without their zone; they were stored in UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _declaration_order(row: DeclarationRow):
    return _utc(row.declared_at), _utc(row.recorded_at)


class Ledger:
    """The books of ``members`` for ``years`` in the caller's transaction (see the module)."""

    def __init__(self, session: Session, as_of: date, years):
        self.session = session
        self.as_of = as_of
        self.years = set(years)
        self.members: dict[str, Member] = {}
        self._declarations: dict[str, list[DeclarationRow]] = {}
        self._declaration_by_id: dict[str, DeclarationRow] = {}
        self._current: dict[tuple[str, int], Call] = {}
        self._on_estimate: dict[tuple[str, int], Call] = {}
        self._assessed: set[str] = set()
        self._estimates: dict[tuple[str, int], list[Decimal]] | None = None
        self._schedules: dict[tuple[str, int], Schedule] = {}
        # what the batch wrote, in order
        self._new_declarations: list[DeclarationRow] = []
        self._new_calls: list[Call] = []
        self._superseded: list[str] = []
        self._changed_schedules: list[Schedule] = []
        self._events: list[dict] = []

    # -- reading -------------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, session: Session, file_numbers, years, *, as_of: date, declaration_ids=()) -> "Ledger":
        """Lock and read the books of ``file_numbers`` for ``years``; ``declaration_ids``: declarations to find
        whoever they belong to (a declaration recorded by the portal), and whether they are assessed."""
        ledger = cls(session, as_of, years)
        session.flush()  # Core statements do not autoflush: read what the caller's ORM objects changed
        numbers = sorted(set(file_numbers))
        if not numbers:
            return ledger
        years = sorted(ledger.years)
        for row in session.execute(
                select(CONTRIBUTORS.c.file_number, CONTRIBUTORS.c.conventionne, CONTRIBUTORS.c.affiliation_date)
                .where(CONTRIBUTORS.c.file_number.in_(numbers))
                .order_by(CONTRIBUTORS.c.file_number).with_for_update()):
            ledger.members[row.file_number] = Member(row.file_number, row.conventionne, row.affiliation_date)
        numbers = sorted(ledger.members)
        if not numbers:
            return ledger

        ids = sorted(set(declaration_ids))
        where = DECLARATIONS.c.file_number.in_(numbers)
        if ids:
            where = or_(where, DECLARATIONS.c.id.in_(ids))
        for row in session.execute(select(DECLARATIONS).where(where)
                                   .order_by(DECLARATIONS.c.declared_at, DECLARATIONS.c.recorded_at)):
            declaration = DeclarationRow(row.id, row.file_number, row.year, row.professional_income,
                                         row.conventioned_income, row.source, row.declared_at, row.recorded_at)
            ledger._declaration_by_id[declaration.id] = declaration
            if declaration.file_number in ledger.members:
                ledger._declarations.setdefault(declaration.file_number, []).append(declaration)

        stored_ids = [i for i in ids if i in ledger._declaration_by_id]
        where = ASSESSMENTS.c.file_number.in_(numbers) & ASSESSMENTS.c.year.in_(years) & or_(
            ASSESSMENTS.c.is_current.is_(True), ASSESSMENTS.c.basis == "estimate")
        if stored_ids:
            where = or_(where, ASSESSMENTS.c.declaration_id.in_(stored_ids))
        current: dict[str, Call] = {}
        for row in session.execute(select(*_CALL_COLUMNS).where(where).order_by(ASSESSMENTS.c.computed_at)):
            call = Call(**row._mapping)
            if call.declaration_id is not None:
                ledger._assessed.add(call.declaration_id)
            if call.file_number not in ledger.members or call.year not in ledger.years:
                continue  # found by its declaration only
            key = (call.file_number, call.year)
            if call.is_current:
                ledger._current[key] = current[call.id] = call
            if call.basis == "estimate":
                ledger._on_estimate[key] = call  # the latest one wins (ordered by computed_at)
        if current:
            for row in session.execute(select(LINES).where(LINES.c.assessment_id.in_(sorted(current)))
                                       .order_by(LINES.c.assessment_id, LINES.c.position)):
                current[row.assessment_id].lines.append(
                    Line(row.position, row.scheme, row.label, row.base, row.rate, row.fixed, row.amount))

        by_id: dict[str, Schedule] = {}
        for row in session.execute(
                select(*[SCHEDULES.c[name] for name in _SCHEDULE_FIELDS])
                .where(SCHEDULES.c.file_number.in_(numbers), SCHEDULES.c.year.in_(years))
                .order_by(SCHEDULES.c.file_number, SCHEDULES.c.year).with_for_update()):
            by_id[row.id] = ledger._schedules[(row.file_number, row.year)] = Schedule(**row._mapping)
        if by_id:
            instalments: dict[str, list] = {}
            for row in session.execute(
                    select(INSTALMENTS.c.schedule_id, INSTALMENTS.c.number, INSTALMENTS.c.due_date,
                           INSTALMENTS.c.amount)
                    .where(INSTALMENTS.c.schedule_id.in_(sorted(by_id)))
                    .order_by(INSTALMENTS.c.schedule_id, INSTALMENTS.c.number)):
                instalments.setdefault(row.schedule_id, []).append(
                    schedule.Instalment(row.number, row.due_date, row.amount))
            for schedule_id, rows in instalments.items():
                by_id[schedule_id].instalments = tuple(rows)
        return ledger

    def _check(self, file_number: str, year: int) -> None:
        if year not in self.years:
            raise RuntimeError(f"the ledger was not loaded for {year}")

    def member(self, file_number: str | None) -> Member | None:
        return self.members.get(file_number)

    def declaration(self, declaration_id: str | None) -> DeclarationRow | None:
        return self._declaration_by_id.get(declaration_id)

    def is_assessed(self, declaration_id: str) -> bool:
        """Whether the declaration already has an assessment (stored or issued in this batch)."""
        return declaration_id in self._assessed

    def latest_declarations(self, file_number: str) -> dict[int, DeclarationRow]:
        """The member's latest declaration of each year (a later declaration corrects an earlier one)."""
        return {row.year: row for row in self._declarations.get(file_number, ())}

    def current(self, file_number: str, year: int) -> Call | None:
        self._check(file_number, year)
        return self._current.get((file_number, year))

    def latest_on_estimate(self, file_number: str, year: int) -> Call | None:
        """The member's latest call of ``year`` made on their estimate, current or not."""
        self._check(file_number, year)
        return self._on_estimate.get((file_number, year))

    def estimate_entries(self, file_number: str, year: int) -> list[Decimal]:
        """The member's monthly estimate entries of ``year`` (read for every member of the ledger at once)."""
        self._check(file_number, year)
        if self._estimates is None:
            self._estimates = {}
            for row in self.session.execute(
                    select(ESTIMATES.c.file_number, ESTIMATES.c.year, ESTIMATES.c.amount)
                    .where(ESTIMATES.c.file_number.in_(sorted(self.members)),
                           ESTIMATES.c.year.in_(sorted(self.years)))
                    .order_by(ESTIMATES.c.file_number, ESTIMATES.c.year, ESTIMATES.c.month)):
                self._estimates.setdefault((row.file_number, row.year), []).append(row.amount)
        return self._estimates.get((file_number, year), [])

    def schedule(self, file_number: str, year: int) -> Schedule | None:
        self._check(file_number, year)
        return self._schedules.get((file_number, year))

    # -- changing (in memory, written by ``write``) -------------------------------------------------------------

    def add_declaration(self, declaration: DeclarationRow) -> None:
        rows = self._declarations.setdefault(declaration.file_number, [])
        rows.append(declaration)
        rows.sort(key=_declaration_order)  # stable: as ORDER BY declared_at, recorded_at
        self._declaration_by_id[declaration.id] = declaration
        self._new_declarations.append(declaration)

    def add_call(self, call: Call) -> None:
        """``call`` becomes the current call of its year; the previous one is no longer current."""
        key = (call.file_number, call.year)
        previous = self.current(*key)
        if previous is not None:
            previous.is_current = False
            if previous.stored:
                self._superseded.append(previous.id)
        call.stored = False
        self._current[key] = call
        if call.basis == "estimate":
            self._on_estimate[key] = call
        if call.declaration_id is not None:
            self._assessed.add(call.declaration_id)
        self._new_calls.append(call)

    def add_schedule(self, row: Schedule) -> None:
        row.stored = False
        self._schedules[(row.file_number, row.year)] = row

    def schedule_changed(self, row: Schedule) -> None:
        if not row.changed:
            row.changed = True
            self._changed_schedules.append(row)

    def stage(self, envelope: dict) -> None:
        """An event for the outbox (``events.new_event``), written in the order staged."""
        self._events.append(envelope)

    # -- writing -------------------------------------------------------------------------------------------------

    def write(self) -> None:
        """Store what the calls produced: one statement per table (parents first), then the outbox."""
        session = self.session
        session.flush()  # the caller's pending ORM rows (an outbox event) go first, as they were staged first
        if self._new_declarations:
            session.execute(insert(DECLARATIONS), [
                {"id": d.id, "file_number": d.file_number, "year": d.year,
                 "professional_income": d.professional_income, "conventioned_income": d.conventioned_income,
                 "source": d.source, "declared_at": d.declared_at, "recorded_at": d.recorded_at}
                for d in self._new_declarations])
        if self._superseded:
            # the ORM's UPDATE, so that an Assessment the caller holds in its session says so too
            session.execute(update(Assessment).where(Assessment.id.in_(self._superseded))
                            .values(is_current=False))
        if self._new_calls:
            session.execute(insert(ASSESSMENTS), [{name: getattr(c, name) for name in _CALL_FIELDS}
                                                  for c in self._new_calls])
            lines = [{"assessment_id": c.id, "position": l.position, "scheme": l.scheme, "label": l.label,
                      "base": l.base, "rate": l.rate, "fixed": l.fixed, "amount": l.amount}
                     for c in self._new_calls for l in c.lines]
            if lines:
                session.execute(insert(LINES), lines)
        if self._changed_schedules:
            self._write_schedules()
        if self._events:
            outbox.add_many(session, Outbox, self._events)

    def _write_schedules(self) -> None:
        session, as_of = self.session, self.as_of
        new = [row for row in self._changed_schedules if not row.stored]
        stored = [row for row in self._changed_schedules if row.stored]
        if new:
            session.execute(insert(SCHEDULES), [{name: getattr(row, name) for name in _SCHEDULE_FIELDS}
                                                for row in new])
        if stored:
            _update_schedules(session, stored)
            # the instalments due from today on are replaced; those already due are history
            session.execute(delete(INSTALMENTS).where(INSTALMENTS.c.schedule_id.in_([row.id for row in stored]),
                                                      INSTALMENTS.c.due_date >= as_of))
        future = [{"schedule_id": row.id, "number": i.number, "due_date": i.due_date, "amount": i.amount}
                  for row in self._changed_schedules for i in row.instalments
                  if not row.stored or i.due_date >= as_of]
        if future:
            session.execute(insert(INSTALMENTS), future)


_CHANGING = ["frequency", "total", "credit", "version", "assessment_id", "updated_at"]


def _update_schedules(session: Session, rows: list[Schedule]) -> None:
    """Each row's new totals, version and assessment: one ``UPDATE ... FROM (VALUES ...)`` on PostgreSQL,
    a statement per row elsewhere (SQLite names no columns of a ``VALUES`` list)."""
    if session.get_bind().dialect.name != "postgresql" or len(rows) == 1:
        for row in rows:
            session.execute(update(SCHEDULES).where(SCHEDULES.c.id == row.id)
                            .values({name: getattr(row, name) for name in _CHANGING}))
        return
    given = values(column("id", String), column("frequency", String), column("total", Money()),
                   column("credit", Money()), column("version", Integer), column("assessment_id", String),
                   column("updated_at", SCHEDULES.c.updated_at.type), name="changed").data(
        [(row.id, *(getattr(row, name) for name in _CHANGING)) for row in rows])
    session.execute(update(SCHEDULES).where(SCHEDULES.c.id == given.c.id)
                    .values({name: given.c[name] for name in _CHANGING}))
