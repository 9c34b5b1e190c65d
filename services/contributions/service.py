"""The contributions service: declarations and assessments.

Entrypoints only: the use cases are in ``declarations``, the rules in ``domain``.
"""
from __future__ import annotations

import logging

from nameko.dependency_providers import Config
from sqlalchemy import text

from carpimko.rpc import rpc
from carpimko.errors import InvalidRequest, NotFound
from carpimko.observability import Observability
from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.handlers import batch_event_handler, reliable_event_handler

from . import (campaigns, career, declarations, estimates, overview, payments, recovery,
               simulations)
from .domain import parameters
from .models import Outbox

log = logging.getLogger(__name__)


class ContributionsService:
    name = "contributions"

    db = DatabaseProvider()
    observability = Observability()
    outbox = OutboxRelay(Outbox)
    config = Config()

    def _today(self, as_of=None):
        """The day schedules and balances are computed for: ``as_of`` (ISO) when given, else the
        ``CONTRIBUTIONS_TODAY`` setting (a fixed day, for tests and rehearsals), else today in Paris."""
        return _day(as_of or self.config.get("CONTRIBUTIONS_TODAY"))

    @rpc
    def declare_income(self, file_number, year, professional_income, conventioned_income,
                       declaration_id=None):
        with self.db.transaction() as session:
            view = declarations.record_declaration(
                session, file_number, year, professional_income, conventioned_income,
                source="portal", declaration_id=declaration_id)
        self.outbox.nudge()
        return view

    @batch_event_handler("income_declared")
    def on_income_declared(self, events):
        """A batch of declarations in one transaction (one commit, and a few
        statements for the whole batch: see ``declarations.assess_declared_incomes``).
        Members are locked in file-number order, so two copies handling
        overlapping batches cannot deadlock; an event that fails fails the
        batch, and the handler then takes each event alone."""
        with self.db.transaction() as session:
            assessed = declarations.assess_declared_incomes(session, events, as_of=self._today())
        if any(assessed):
            self.outbox.nudge()

    @rpc
    def get_declaration(self, file_number, declaration_id):
        with self.db.transaction() as session:
            return declarations.get_declaration(session, file_number, declaration_id)

    @rpc
    def list_declarations(self, file_number):
        with self.db.transaction() as session:
            return declarations.list_declarations(session, file_number)

    @rpc
    def dashboard(self, file_number, as_of=None):
        """What the member's dashboard shows of contributions: the declarations
        (as ``list_declarations``, each assessment without its lines and notes:
        the page shows totals) and the schedules (as ``schedules``), read in
        one transaction and answered in one RPC: the page asked for both on
        every view, and each RPC costs the gateway, RabbitMQ and this service
        a few milliseconds of CPU (profiled, docs/benchmarks.md)."""
        with self.db.transaction() as session:
            return {"declarations": declarations.list_declarations(session, file_number,
                                                                   detail=False),
                    "schedules": payments.schedules(session, file_number, self._today(as_of))}

    @rpc
    def declarable_years(self):
        """The years that have a parameter file, oldest first."""
        return list(parameters.available_years())

    @reliable_event_handler("payment_received")
    def on_payment_received(self, event):
        with self.db.transaction() as session:
            payments.record_payment(session, event)

    @rpc
    def schedules(self, file_number, as_of=None):
        """Every year's payment schedule of the member, its balance and the "up to date" status."""
        with self.db.transaction() as session:
            return payments.schedules(session, file_number, self._today(as_of))

    @rpc
    def get_schedule(self, file_number, year, as_of=None):
        with self.db.transaction() as session:
            return payments.get_schedule(session, file_number, year, self._today(as_of))

    @rpc
    def change_schedule(self, file_number, year, frequency, as_of=None):
        with self.db.transaction() as session:
            view = payments.change_frequency(session, file_number, year, frequency, self._today(as_of))
        self.outbox.nudge()
        return view

    @rpc
    def payments_paid_in(self, file_number, year):
        """The payments received in a calendar year (the documents service's
        certificate of contributions paid, for the income tax return)."""
        with self.db.transaction() as session:
            return payments.payments_paid_in(session, file_number, year)

    @rpc
    def set_mandate(self, file_number, iban, bic, holder):
        with self.db.transaction() as session:
            return payments.set_mandate(session, file_number, iban, bic, holder)

    @rpc
    def get_mandate(self, file_number):
        with self.db.transaction() as session:
            return payments.get_mandate(session, file_number)

    @rpc
    def contributions_overview(self, file_number):
        """Each year: the current assessment (provisional or final), every line, and what changed since the
        previous call and why."""
        with self.db.transaction() as session:
            return overview.contributions(session, file_number)

    @rpc
    def simulate(self, year, income, conventioned_income=None, activity_start=None, explained=False):
        """The public simulator: no database, no member (see ``simulations``)."""
        if explained:
            return simulations.simulate_explained(year, income, conventioned_income, activity_start)
        return simulations.simulate(year, income, conventioned_income, activity_start)

    # -- career record and retirement estimate (issue #6) ------------------------------------------------------
    @rpc
    def career_record(self, file_number, as_of=None):
        """Each year: income, contributions called and paid, quarters, points, credited periods, flag, and whether
        it is provisional or final."""
        with self.db.transaction() as session:
            return career.record(session, file_number, self._today(as_of))

    @rpc
    def retirement_estimate(self, file_number, birth_date, what_if=None, as_of=None):
        """Legal age, full-rate date and the monthly pension estimated at the legal date, the full-rate date and
        67; with ``what_if`` (future income, a career break, a maternity, another date) the what-if next to it.
        ``birth_date`` comes from accounts (the gateway asks it)."""
        with self.db.transaction() as session:
            return career.estimate(session, file_number, birth_date, self._today(as_of), what_if)

    @rpc
    def flag_career_year(self, file_number, year, comment, as_of=None):
        with self.db.transaction() as session:
            view = career.flag_year(session, file_number, year, comment, self._today(as_of))
        self.outbox.nudge()
        return view

    @reliable_event_handler("career_review_resolved")
    def on_career_review_resolved(self, event):
        with self.db.transaction() as session:
            career.resolve_review(session, event)

    @rpc
    def record_career_credit(self, file_number, kind, year=None, childbirth_date=None, months=None,
                             recorded_by=None):
        """An advisor records a period credited without income (``carpimko career credit``)."""
        with self.db.transaction() as session:
            return career.record_credit(session, file_number, kind, year=year, childbirth_date=childbirth_date,
                                        months=months, recorded_by=recorded_by)

    @rpc
    def request_career_statement(self, file_number, as_of=None):
        with self.db.transaction() as session:
            view = career.request_statement(session, file_number, self._today(as_of))
        self.outbox.nudge()
        return view

    # -- the yearly cycle: the member's estimate and the yearly call campaign ------------------------------------

    @rpc
    def get_estimate(self, file_number, year=None, as_of=None):
        """The member's monthly entries of ``year`` (default: the current year), their sum and the year's call."""
        today = self._today(as_of)
        with self.db.transaction() as session:
            return estimates.estimate_view(session, file_number, year or today.year)

    @rpc
    def save_estimate(self, file_number, year, months, as_of=None):
        """Store the monthly entries of the current year and adjust its call on their sum."""
        with self.db.transaction() as session:
            view = estimates.save_estimate(session, file_number, year, months, self._today(as_of))
        self.outbox.nudge()
        return view

    @rpc
    def campaign_start(self, year):
        """Open (or resume) the yearly call campaign of ``year``: its progress and the members still to call."""
        with self.db.transaction() as session:
            return campaigns.start(session, year)

    @rpc
    def campaign_call(self, campaign_id, file_numbers, as_of=None):
        """Issue the provisional calls of the members given, in one transaction (``campaigns.call_members``).
        Should the batch fail, each member is taken alone in its own transaction, so one member's problem
        neither holds the others back nor is hidden: those before it are done, and its error is raised.
        Returns ``{file_number: outcome}``."""
        today = self._today(as_of)
        outcomes = {}
        try:
            try:
                with self.db.transaction() as session:
                    outcomes = campaigns.call_members(session, campaign_id, file_numbers, today)
            except (InvalidRequest, NotFound):
                raise  # the batch itself is wrong (no such campaign, not a list, an unknown member): said as is
            except Exception:
                log.warning("campaign %s: a batch of %d failed, calling its members one at a time", campaign_id,
                            len(file_numbers), exc_info=True)
                for file_number in file_numbers:
                    with self.db.transaction() as session:
                        outcomes[file_number] = campaigns.call_member(session, campaign_id, file_number, today)
            return outcomes
        finally:
            if outcomes:
                self.outbox.nudge()

    @rpc
    def campaign_finish(self, campaign_id):
        with self.db.transaction() as session:
            return campaigns.finish(session, campaign_id)

    # -- recovery: formal notices and payment plans (staff, see recovery) ----------------------------------------

    @rpc
    def record_formal_notice(self, file_number, year, sent_on, by):
        with self.db.transaction() as session:
            return recovery.record_notice(session, file_number, year, sent_on, by)

    @rpc
    def record_payment_plan(self, file_number, year, instalments, first_due, by, as_of=None):
        with self.db.transaction() as session:
            return recovery.record_plan(session, file_number, year, instalments, first_due, by,
                                        self._today(as_of))

    @rpc
    def cancel_payment_plan(self, plan_id, by):
        with self.db.transaction() as session:
            return recovery.cancel_plan(session, plan_id, by)

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        from carpimko import outbox as outbox_rows
        return {"service": self.name, "status": "up",
                "outbox_pending": outbox_rows.pending_count(self.db, Outbox)}


def _day(as_of):
    """Today (Paris), or the ISO date given (tests and back-office what-ifs)."""
    from datetime import date
    return payments.today() if as_of is None else date.fromisoformat(as_of)
