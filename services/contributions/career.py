"""Use cases of the career record (service layer): the record year by year, the retirement estimate and its
what-ifs, credited periods, flagged years and the career statement request. Rules in ``domain.career``.

Where the data comes from:
- income and contributions called: the current assessment of each year (``assessments``); a year is **final**
  once regularised on its own declared income and over, **provisional** otherwise;
- contributions paid: the payments recorded for the year (``payments``);
- credited periods: ``career_credits``, recorded by an advisor on proof (``carpimko career credit``), never by the
  member: the member flags the year instead and sends the proof in the message thread;
- the birth date: accounts owns it; the gateway reads it there (``accounts.birth_date``) and passes it in, so
  contributions keeps no copy of identity data.
"""
from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carpimko import inbox, outbox
from carpimko.errors import Conflict, InvalidRequest, NotFound
from carpimko.events import Event, new_event

from .domain.career import parameters as career_parameters
from .domain.career import retirement, rights
from .models import Assessment, CareerCredit, CareerFlag, Contributor, Declaration, Inbox, Outbox, Payment

log = logging.getLogger(__name__)

RESOLVED_CONSUMER = "contributions.on_career_review_resolved"
MAX_COMMENT = 4000
MAX_INCOME = Decimal("100000000")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _points(value: Decimal) -> str:
    return f"{value:.2f}"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def _contributor(session: Session, file_number: str) -> Contributor:
    contributor = session.get(Contributor, file_number)
    if contributor is None:
        raise NotFound(f"no contributor {file_number}", {})
    return contributor


def _credits(session: Session, file_number: str) -> dict[int, list[CareerCredit]]:
    out: dict[int, list[CareerCredit]] = {}
    for row in session.scalars(select(CareerCredit).where(CareerCredit.file_number == file_number)
                               .order_by(CareerCredit.recorded_at)):
        out.setdefault(row.year, []).append(row)
    return out


def _domain_credit(row: CareerCredit) -> rights.Credit:
    return rights.Credit(row.kind, row.year, childbirth_date=row.childbirth_date, months=row.months)


def _flags(session: Session, file_number: str) -> dict[int, CareerFlag]:
    """The latest flag of each year."""
    out: dict[int, CareerFlag] = {}
    for row in session.scalars(select(CareerFlag).where(CareerFlag.file_number == file_number)
                               .order_by(CareerFlag.flagged_at)):
        out[row.year] = row
    return out


def _flag_view(row: CareerFlag | None) -> dict | None:
    if row is None:
        return None
    return {"flag_id": row.id, "status": row.status, "comment": row.comment, "flagged_at": _iso(row.flagged_at),
            "thread_id": row.thread_id, "outcome": row.outcome, "resolved_at": _iso(row.resolved_at)}


def _credit_view(row: CareerCredit) -> dict:
    return {"id": row.id, "kind": row.kind, "year": row.year,
            "childbirth_date": row.childbirth_date.isoformat() if row.childbirth_date else None,
            "months": row.months, "recorded_by": row.recorded_by, "recorded_at": _iso(row.recorded_at)}


def _call_view(assessment: Assessment) -> dict:
    """What a provisional or adjusted call was computed on: shown apart, never as the year's declared income."""
    return {"stage": assessment.status, "basis": assessment.basis, "income_year": assessment.income_year,
            "income": _money(assessment.income_used)}


def record_years(session: Session, file_number: str, today: date) -> tuple[list[dict], list[rights.YearRights]]:
    """Each year of the record (oldest first) as a view, and the same years as domain rights.

    A year uses its **current** assessment. Regularised: the rights come from the declared income it was
    regularised on. Provisional or adjusted (only called on N-2's or N-1's income, or a flat or estimated base):
    the rights are those of the call, so the member sees what the year would earn as called, but the year is
    provisional (``not_regularised``), its ``income`` is None (nothing declared for that year) and ``call`` says
    which income the call used."""
    _contributor(session, file_number)
    assessments = {a.year: a for a in session.scalars(
        select(Assessment).where(Assessment.file_number == file_number, Assessment.is_current.is_(True)))}
    paid = dict(session.execute(
        select(Payment.year, func.sum(Payment.amount)).where(Payment.file_number == file_number)
        .group_by(Payment.year)).all())
    credits = _credits(session, file_number)
    flags = _flags(session, file_number)
    known = set(career_parameters.career_years())
    views, domain_years = [], []
    for year in sorted(set(assessments) | set(credits)):
        assessment = assessments.get(year)
        year_credits = tuple(_domain_credit(c) for c in credits.get(year, []))
        reasons = []
        if year not in known:
            continue  # no career rules for that year: nothing can be computed (the parameter files say which)
        call = None
        income_declared = None
        if assessment is not None and assessment.status == "regularised":
            declaration = (session.get(Declaration, assessment.declaration_id)
                           if assessment.declaration_id is not None else None)
            income = declaration.professional_income if declaration is not None else None
            conventioned = declaration.conventioned_income if declaration is not None else None
            result = rights.year_rights(year, income, conventionne=assessment.conventionne,
                                        conventioned_income=conventioned, credits=year_credits)
            income_declared = assessment.income_declared
            if not assessment.income_declared:
                reasons.append("no_income_declared")
        elif assessment is not None:
            # the call's own base: income_used is the base it was computed on (5 PASS when nothing was declared)
            result = rights.year_rights(year, assessment.income_used, conventionne=assessment.conventionne,
                                        credits=year_credits)
            call = _call_view(assessment)
            income_declared = False
            reasons.append("not_regularised")
        else:
            result = rights.year_rights(year, None, assessed=False, credits=year_credits)
        if year >= today.year:
            reasons.append("year_not_over")
        flag = flags.get(year)
        if flag is not None and flag.status == "under_review":
            reasons.append("under_review")
        views.append({
            "year": year,
            "status": "provisional" if reasons else "final",
            "provisional_reasons": reasons,
            "stage": assessment.status if assessment is not None else None,
            "income": _money(result.income) if call is None else None,
            "income_declared": income_declared,
            "call": call,
            "contributions_called": _money(assessment.total) if assessment is not None else None,
            "contributions_paid": _money(paid.get(year, Decimal("0.00"))),
            "quarters": result.quarters,
            "rb_points": _points(result.rb_points),
            "rc_points": _points(result.rc_points),
            "asv_points": _points(result.asv_points),
            "income_quarters": result.income_quarters,
            "income_rb_points": _points(result.income_rb_points),
            "credits": [_credit_view(c) for c in credits.get(year, [])],
            "flag": _flag_view(flag),
        })
        domain_years.append(result)
    return views, domain_years


def _totals(pairs) -> dict:
    pairs = list(pairs)
    return {"years": [v["year"] for v, _ in pairs],
            "quarters": sum(y.quarters for _, y in pairs),
            "rb_points": _points(sum((y.rb_points for _, y in pairs), Decimal(0))),
            "rc_points": _points(sum((y.rc_points for _, y in pairs), Decimal(0))),
            "asv_points": _points(sum((y.asv_points for _, y in pairs), Decimal(0)))}


def record(session: Session, file_number: str, today: date) -> dict:
    """The career record: every year, the totals of the **final** years (``totals``) and, apart, the totals of
    the provisional ones (``provisional_totals``: a year not regularised, not over, or under review), so that a
    figure that may still change is never added silently to the acquired ones."""
    contributor = _contributor(session, file_number)
    years, domain_years = record_years(session, file_number, today)
    pairs = list(zip(years, domain_years))
    return {
        "file_number": file_number,
        "as_of": today.isoformat(),
        "conventionne": contributor.conventionne,
        "years": years,
        "totals": _totals(p for p in pairs if p[0]["status"] == "final"),
        "provisional_totals": _totals(p for p in pairs if p[0]["status"] != "final"),
    }


# -- estimate and what-if -------------------------------------------------------------------------------------------

WHAT_IF_FIELDS = ("future_income", "break_from", "break_to", "maternity_date", "retirement_date")


def _date(value, name: str, errors: dict) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors[name] = ["not a date (YYYY-MM-DD)"]
        return None


def _year(value, name: str, errors: dict, today: date) -> int | None:
    if value in (None, ""):
        return None
    try:
        year = int(str(value))
    except ValueError:
        errors[name] = ["must be a year"]
        return None
    if not today.year <= year <= today.year + 60:
        errors[name] = [f"must be a year from {today.year} to {today.year + 60}"]
        return None
    return year


def parse_what_if(data: dict | None, today: date) -> retirement.Scenario | None:
    """The what-if questions from their wire form (strings), every error at once; None when no question."""
    data = {k: v for k, v in (data or {}).items() if v not in (None, "")}
    if not data:
        return None
    errors: dict = {}
    unknown = set(data) - set(WHAT_IF_FIELDS)
    for name in unknown:
        errors[name] = ["Unknown field."]
    income = None
    if "future_income" in data:
        try:
            income = Decimal(str(data["future_income"]))
            if not income.is_finite():
                errors["future_income"] = ["not a decimal amount"]
            elif income < 0:
                errors["future_income"] = ["must not be negative"]
            elif income >= MAX_INCOME:
                errors["future_income"] = ["too large: at most 99 999 999.99"]
            elif income != income.quantize(Decimal("0.01")):
                errors["future_income"] = ["at most two decimal places"]
        except (InvalidOperation, ValueError):
            errors["future_income"] = ["not a decimal amount"]
    break_from = _year(data.get("break_from"), "break_from", errors, today)
    break_to = _year(data.get("break_to"), "break_to", errors, today)
    if (break_from is None) != (break_to is None) and "break_from" not in errors and "break_to" not in errors:
        errors["break_to" if break_to is None else "break_from"] = ["required for a career break"]
    elif break_from is not None and break_to is not None and break_to < break_from:
        errors["break_to"] = ["must not be before the first year of the break"]
    maternity = _date(data.get("maternity_date"), "maternity_date", errors)
    if maternity is not None and maternity.year < today.year:
        errors["maternity_date"] = ["a past childbirth is recorded by the fund on proof: flag the year"]
    chosen = _date(data.get("retirement_date"), "retirement_date", errors)
    if chosen is not None and chosen.day != 1:
        errors["retirement_date"] = ["a pension starts on the first day of a month"]
    for name, day in (("maternity_date", maternity), ("retirement_date", chosen)):
        if day is not None and name not in errors and day.year > today.year + 60:
            errors[name] = [f"no later than {today.year + 60}"]
    if errors:
        raise InvalidRequest("invalid what-if", errors)
    return retirement.Scenario(future_income=income, break_from=break_from, break_to=break_to,
                               maternity_date=maternity, retirement_date=chosen)


def _estimate_view(e: retirement.Estimate) -> dict:
    return {"label": e.label, "start": e.start.isoformat(), "age_years": e.age_years, "age_months": e.age_months,
            "quarters": e.quarters, "missing_quarters": e.missing_quarters,
            "reduction_percent": f"{e.reduction_percent:.2f}", "rb_points": _points(e.rb_points),
            "rc_points": _points(e.rc_points), "asv_points": _points(e.asv_points),
            "rb_monthly": _money(e.rb_monthly), "rc_monthly": _money(e.rc_monthly),
            "asv_monthly": _money(e.asv_monthly), "monthly": _money(e.monthly)}


def _projection_view(p: retirement.Projection) -> dict:
    return {"full_rate_date": p.full_rate_date.isoformat(),
            "future_income": _money(p.future_income),
            "projected_from": p.projected_from,
            "estimates": [_estimate_view(e) for e in p.estimates]}


def _assumptions(p: retirement.Projection, scenario: retirement.Scenario, income_basis: dict,
                 pending: list[int]) -> list[dict]:
    rules = career_parameters.load_retirement_rules()
    out = [
        {"code": "future_income", "value": _money(p.future_income), "source": "A", **income_basis},
        {"code": "projection_rules_year", "value": p.values_year, "source": "A"},
        {"code": "point_values", "values": {k: f"{v.value}" for k, v in p.point_values.items()},
         "sources": {k: v.source for k, v in p.point_values.items()}, "year": p.values_year},
        {"code": "reduction", "value": f"{rules.reduction_per_missing_quarter_percent.value}",
         "source": rules.reduction_per_missing_quarter_percent.source},
        {"code": "age_table", "source": p.entitlement.source},
        {"code": "only_this_fund", "source": "A"},
        {"code": "todays_euros", "source": "A"},
    ]
    if pending:
        out.append({"code": "provisional_years_projected", "years": pending, "source": "A"})
    if scenario.conventionne:
        out.append({"code": "all_income_conventioned", "source": "A"})
    return out


def _estimate_inputs(views: list[dict], years: list[rights.YearRights]):
    """What the estimate takes from the record: the years called only provisionally (``pending``: projected on
    the assumed income with their credited periods, see ``retirement.project``) and the default assumed income:
    the last income declared (a regularised year), else the income of the latest provisional call, else none."""
    pending = {v["year"]: y.credits for v, y in zip(views, years) if v["call"] is not None}
    declared = [v for v in views if v["call"] is None and v["income_declared"]]
    if declared:
        return pending, Decimal(declared[-1]["income"]), {"basis": "declared", "income_year": declared[-1]["year"]}
    called = [v for v in views if v["call"] is not None]
    if called:
        call = called[-1]["call"]
        return pending, Decimal(call["income"]), {"basis": "call", "income_year": called[-1]["year"],
                                                  "call_stage": call["stage"]}
    return pending, None, {"basis": "none"}


def estimate(session: Session, file_number: str, birth_date, today: date, what_if: dict | None = None) -> dict:
    """Legal age, quarters needed, full-rate date and the estimates (legal date, full-rate date, 67), with the
    assumptions; with ``what_if``, the what-if projection next to it and what changed."""
    contributor = _contributor(session, file_number)
    errors: dict = {}
    birth = _date(birth_date, "birth_date", errors)
    if birth is None and not errors:
        errors["birth_date"] = ["required"]
    if errors:
        raise InvalidRequest("invalid birth date", errors)
    scenario = parse_what_if(what_if, today)
    views, years = record_years(session, file_number, today)
    pending, default_income, income_basis = _estimate_inputs(views, years)
    base = retirement.Scenario(conventionne=contributor.conventionne)
    try:
        current = retirement.project(tuple(years), birth, today, base, pending=pending,
                                     default_income=default_income)
        alternative = None
        if scenario is not None:
            scenario = retirement.Scenario(**{**scenario.__dict__, "conventionne": contributor.conventionne})
            alternative = retirement.project(tuple(years), birth, today, scenario, pending=pending,
                                             default_income=default_income)
    except ValueError as exc:
        field = "retirement_date" if "pension" in str(exc) else "birth_date"
        raise InvalidRequest(str(exc), {field: [str(exc)]}) from None
    ent = current.entitlement
    view = {
        "birth_date": birth.isoformat(),
        "legal_age": {"years": ent.legal_age_years, "months": ent.legal_age_months,
                      "date": ent.legal_age_date.isoformat(), "source": ent.source},
        "legal_start": ent.legal_start.isoformat(),
        "quarters_needed": ent.quarters_needed,
        # the record's quarters: final ones, and apart the provisional ones (see ``record``)
        "quarters_recorded": sum(y.quarters for v, y in zip(views, years) if v["status"] == "final"),
        "quarters_provisional": sum(y.quarters for v, y in zip(views, years) if v["status"] != "final"),
        "provisional_years": [v["year"] for v in views if v["status"] != "final"],
        "automatic_full_rate_date": ent.automatic_full_rate_date.isoformat(),
        "automatic_start": ent.automatic_start.isoformat(),
        "current": _projection_view(current),
        "assumptions": _assumptions(current, base, income_basis, sorted(pending)),
        "what_if": None,
    }
    if alternative is not None:
        view["what_if"] = {
            "questions": {k: (v.isoformat() if isinstance(v, date) else _money(v) if isinstance(v, Decimal) else v)
                          for k, v in scenario.__dict__.items() if k in WHAT_IF_FIELDS and v is not None},
            **_projection_view(alternative),
            "changes": [{k: (v.isoformat() if isinstance(v, date) else f"{v:.2f}" if isinstance(v, Decimal) else v)
                         for k, v in change.items()} for change in retirement.compare(current, alternative)],
        }
    return view


# -- credited periods (advisor) ---------------------------------------------------------------------------------

def record_credit(session: Session, file_number: str, kind: str, *, year=None, childbirth_date=None,
                  months=None, recorded_by: str) -> dict:
    """Record a period credited without income, on proof, by an advisor (``carpimko career credit``)."""
    _contributor(session, file_number)
    errors: dict = {}
    if not recorded_by or not str(recorded_by).strip():
        errors["recorded_by"] = ["required: the advisor recording the period"]
    birth = _date(childbirth_date, "childbirth_date", errors)
    if kind == "maternity":
        if birth is None and "childbirth_date" not in errors:
            errors["childbirth_date"] = ["required for a maternity"]
        year = birth.year if birth is not None else None
    elif kind == "incapacity":
        try:
            year = int(year)
        except (TypeError, ValueError):
            errors["year"] = ["required: the year of the incapacity"]
        try:
            months = int(months)
        except (TypeError, ValueError):
            errors["months"] = ["required: months of incapacity in the year"]
    else:
        errors["kind"] = [f"must be one of {', '.join(rights.CREDIT_KINDS)}"]
    if not errors:
        try:
            career_parameters.load_career_parameters(year)
            rights.validate_credit(rights.Credit(kind, year, childbirth_date=birth, months=months))
        except career_parameters.UnknownCareerYear as exc:
            errors["year"] = [str(exc)]
        except rights.InvalidCredit as exc:
            errors["months" if kind == "incapacity" else "childbirth_date"] = [str(exc)]
    if errors:
        raise InvalidRequest("invalid credited period", errors)
    if kind == "incapacity" and session.scalar(select(CareerCredit.id).where(
            CareerCredit.file_number == file_number, CareerCredit.kind == "incapacity", CareerCredit.year == year)):
        raise Conflict(f"an incapacity exemption is already recorded for {year}", {"year": ["already recorded"]})
    if kind == "maternity" and session.scalar(select(CareerCredit.id).where(
            CareerCredit.file_number == file_number, CareerCredit.kind == "maternity",
            CareerCredit.childbirth_date == birth)):
        raise Conflict("this childbirth is already recorded", {"childbirth_date": ["already recorded"]})
    row = CareerCredit(id=str(uuid.uuid4()), file_number=file_number, kind=kind, year=year,
                       childbirth_date=birth, months=months if kind == "incapacity" else None,
                       recorded_by=str(recorded_by).strip()[:64], recorded_at=datetime.now(timezone.utc))
    session.add(row)
    session.flush()
    return _credit_view(row)


# -- flagging a year --------------------------------------------------------------------------------------------------

def flag_year(session: Session, file_number: str, year, comment, today: date) -> dict:
    """The member says ``year`` is wrong: store the flag (under review) and stage ``career_year_flagged`` so that
    messaging opens a thread with the fund. One open flag per year."""
    errors: dict = {}
    if not isinstance(year, int) or isinstance(year, bool):
        errors["year"] = ["must be an integer"]
    text = comment.strip() if isinstance(comment, str) else ""
    if not text:
        errors["comment"] = ["required"]
    elif len(text) > MAX_COMMENT:
        errors["comment"] = [f"too long: at most {MAX_COMMENT} characters"]
    if errors:
        raise InvalidRequest("invalid flag", errors)
    # the contributor's row serialises two flags of the same member (a double click): one open flag per year
    session.get(Contributor, file_number, with_for_update=True)
    views, _ = record_years(session, file_number, today)
    if year not in {v["year"] for v in views}:
        raise InvalidRequest("no such year in the record", {"year": [f"{year} is not in your career record"]})
    existing = session.scalar(select(CareerFlag).where(
        CareerFlag.file_number == file_number, CareerFlag.year == year, CareerFlag.status == "under_review"))
    if existing is not None:
        raise Conflict(f"{year} is already under review", {"year": ["already under review"]})
    now = datetime.now(timezone.utc)
    flag = CareerFlag(id=str(uuid.uuid4()), file_number=file_number, year=year, comment=text,
                      status="under_review", flagged_at=now)
    session.add(flag)
    outbox.add(session, Outbox, new_event(
        "career_year_flagged", {"flag_id": flag.id, "year": year, "comment": text, "flagged_at": now},
        member_id=file_number, correlation_id=flag.id))
    session.flush()
    return _flag_view(flag) | {"year": year}


def resolve_review(session: Session, event: Event) -> bool:
    """Handle ``career_review_resolved``: the year's flag becomes resolved with the outcome. False for a
    redelivered event or an unknown flag (logged by the caller: nothing to do, nothing lost)."""
    if not inbox.claim(session, Inbox, RESOLVED_CONSUMER, event.event_id):
        return False
    p = event.payload
    flag = session.get(CareerFlag, str(p["flag_id"]))
    if flag is None or flag.file_number != event.member_id:
        log.warning("career_review_resolved for an unknown flag %s of member %s: ignored",
                    p["flag_id"], event.member_id)
        return False
    flag.status = "resolved"
    flag.outcome = p["outcome"]
    flag.thread_id = str(p["thread_id"])
    flag.resolved_at = p["resolved_at"]
    return True


# -- career statement -----------------------------------------------------------------------------------------------

def request_statement(session: Session, file_number: str, today: date) -> dict:
    """Stage ``career_statement_requested`` with the record's figures; documents renders and stores the PDF,
    which then appears in "Mes documents" (``correlation_id`` = ``request_id``)."""
    views, _ = record_years(session, file_number, today)
    request_id = str(uuid.uuid4())
    outbox.add(session, Outbox, new_event(
        "career_statement_requested",
        {"request_id": request_id, "as_of": today,
         "years": [{"year": v["year"], "income": v["income"], "quarters": v["quarters"],
                    "rb_points": v["rb_points"], "rc_points": v["rc_points"], "status": v["status"],
                    "call": v["call"] and {k: v["call"][k] for k in ("stage", "income_year", "income")}}
                   for v in views]},
        member_id=file_number, correlation_id=request_id))
    return {"request_id": request_id, "years": len(views)}
