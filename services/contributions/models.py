"""The contributions service's tables.

- ``contributors``: what this service knows of a member as a contributor
  (conventionné or not, affiliation date, profession);
- ``declarations``: every income declaration, from the portal or a batch;
- ``assessments`` and ``assessment_lines``: each calculation, with its inputs,
  the parameter file version and every line's base, rate and amount, so any
  figure can be explained and reproduced. A recalculation adds a new
  assessment and marks the previous one of the same year not current.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from carpimko.db import Money
from carpimko.inbox import InboxMixin
from carpimko.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Contributor(Base):
    __tablename__ = "contributors"

    file_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    profession: Mapped[str] = mapped_column(String(64))
    conventionne: Mapped[bool] = mapped_column(Boolean)
    affiliation_date: Mapped[date] = mapped_column(Date)


class Declaration(Base):
    __tablename__ = "declarations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9), index=True)
    year: Mapped[int] = mapped_column(Integer)
    professional_income: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    conventioned_income: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Assessment(Base):
    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # the declaration this assessment regularises (None for provisional and adjusted calls)
    declaration_id: Mapped[str | None] = mapped_column(ForeignKey("declarations.id"), unique=True, nullable=True)
    file_number: Mapped[str] = mapped_column(String(9))
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # provisional, adjusted, regularised (cycle.STAGES)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    parameters_version: Mapped[str] = mapped_column(String(32))
    income_used: Mapped[Decimal] = mapped_column(Money)
    income_declared: Mapped[bool] = mapped_column(Boolean)
    conventionne: Mapped[bool] = mapped_column(Boolean)
    total: Mapped[Decimal] = mapped_column(Money)
    previous_total: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the yearly cycle (migration 0003; None on older rows): where the income came from (cycle.YearlyCall.basis),
    # which year's income, what triggered the call, the declaration or campaign behind it, and the estimate
    # surcharge added at regularisation
    basis: Mapped[str | None] = mapped_column(String(16), nullable=True)
    income_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trigger: Mapped[str | None] = mapped_column(String(16), nullable=True)  # declaration, campaign, estimate
    cause_declaration_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    campaign_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    surcharge: Mapped[Decimal | None] = mapped_column(Money, nullable=True)

    lines: Mapped[list["AssessmentLine"]] = relationship(
        order_by="AssessmentLine.position", cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (Index("ix_assessments_member_year", "file_number", "year", "is_current"),)


class AssessmentLine(Base):
    __tablename__ = "assessment_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(120))
    base: Mapped[Decimal] = mapped_column(Money)
    rate: Mapped[str | None] = mapped_column(String(16), nullable=True)  # percent, exact text
    fixed: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)


class PaymentSchedule(Base):
    """A member's payment schedule of one year (one row per member and year). The instalments already due when
    it changes are kept; the future ones are replaced (see ``domain.schedule.respread``)."""

    __tablename__ = "payment_schedules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9))
    year: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[str] = mapped_column(String(16))  # monthly, quarterly, half_yearly
    total: Mapped[Decimal] = mapped_column(Money)
    credit: Mapped[Decimal] = mapped_column(Money)
    version: Mapped[int] = mapped_column(Integer)  # +1 at every change
    assessment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    notice_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # formal notice sent (mise en demeure)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    instalments: Mapped[list["ScheduledInstalment"]] = relationship(
        order_by="ScheduledInstalment.number", cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (UniqueConstraint("file_number", "year", name="uq_payment_schedules_member_year"),)


class ScheduledInstalment(Base):
    __tablename__ = "instalments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("payment_schedules.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)


class Payment(Base):
    """A payment received (bank batch file or direct debit); ``reference`` is the bank's, unique: importing
    the same file twice records nothing new."""

    __tablename__ = "payments"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Mandate(Base):
    """The member's SEPA direct-debit mandate (IBAN and BIC validated; shown masked)."""

    __tablename__ = "sepa_mandates"

    file_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11))
    holder: Mapped[str] = mapped_column(String(120))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Campaign(Base):
    """An operations campaign over every member (``carpimko campaign yearly-call --year Y``): one row per kind
    and year, so running it again resumes it instead of starting over."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "yearly-call-2027"
    kind: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CampaignMember(Base):
    """Per-member progress of a campaign, written in the same transaction as the member's call (and its
    outbox event): a member listed here is done, whatever happens to the process afterwards."""

    __tablename__ = "campaign_members"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))  # issued, already_called, not_affiliated
    assessment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    done_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IncomeEstimate(Base):
    """The member's estimate of the current year's income, one row per month entered (the physiotherapist
    entering monthly fees); the estimate is their sum. Editable until the year's income is declared."""

    __tablename__ = "income_estimates"

    file_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FormalNotice(Base):
    """A formal notice (mise en demeure) sent for a year's unpaid contributions. While the year still has
    arrears the notice is unpaid and the member is not up to date; the latest one also sets the schedule's
    ``notice_date`` (reduced monthly surcharge when settled within 30 days of it)."""

    __tablename__ = "formal_notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9), index=True)
    year: Mapped[int] = mapped_column(Integer)
    sent_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)  # arrears + surcharge claimed on that day
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaymentPlan(Base):
    """A payment plan agreed with an advisor for a year's arrears: the member pays ``amount`` in ``instalments``
    monthly payments from ``first_due``. Until the year's arrears are settled (or the plan is cancelled) the
    member is not up to date (domain.md §3.3)."""

    __tablename__ = "payment_plans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    instalments: Mapped[int] = mapped_column(Integer)
    first_due: Mapped[date] = mapped_column(Date)
    agreed_on: Mapped[date] = mapped_column(Date)  # the service's day when recorded
    agreed_by: Mapped[str] = mapped_column(String(64))
    agreed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# -- career record (issue #6) ---------------------------------------------------------------------------------------


class CareerCredit(Base):
    """A period credited without income, recorded by an advisor (``carpimko career credit``) on proof:
    ``maternity`` (the childbirth date) or ``incapacity`` (months of incapacity in the year, at least 6)."""

    __tablename__ = "career_credits"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    childbirth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CareerFlag(Base):
    """A member says a year of the record is wrong: ``under_review`` until messaging reports the advisor's
    answer (``career_review_resolved``), then ``resolved`` with its outcome (corrected / confirmed)."""

    __tablename__ = "career_flags"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the flag_id of the events
    file_number: Mapped[str] = mapped_column(String(9), index=True)
    year: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # under_review, resolved
    flagged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    thread_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
