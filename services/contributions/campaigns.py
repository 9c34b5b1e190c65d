"""The yearly call campaign (service layer): the provisional call of year Y for every member.

``carpimko campaign yearly-call --year Y`` (ops/campaign.py) drives it through RPC: :func:`start` opens (or
reopens) the campaign and lists the members still to call; :func:`call_member` issues one member's provisional
call through ``calls.issue_call`` (assessment, outbox event, schedule) and records the member's progress row in
the same transaction. So the campaign is

- resumable: an interrupted run leaves every member either fully done (call + event + progress row) or not at
  all, and the next run lists only those not done;
- idempotent: a member already done is skipped, and a member who already has a call of Y (a declaration, an
  estimate, an earlier campaign) is recorded ``already_called`` without a second assessment or event; a member
  affiliated from a later year is recorded ``not_affiliated``.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carpimko.errors import InvalidRequest, NotFound

from . import calls
from .domain import parameters
from .models import Assessment, Campaign, CampaignMember, Contributor

KIND = "yearly_call"


def campaign_id(year: int) -> str:
    return f"yearly-call-{year}"


def _check_year(year) -> int:
    if not isinstance(year, int) or isinstance(year, bool):
        raise InvalidRequest("invalid campaign", {"year": ["must be an integer"]})
    if year not in parameters.available_years():
        known = ", ".join(str(y) for y in parameters.available_years())
        raise InvalidRequest("invalid campaign",
                             {"year": [f"no contribution rules for {year} (known years: {known})"]})
    return year


def progress(session: Session, campaign: Campaign) -> dict:
    total = session.scalar(select(func.count()).select_from(Contributor))
    outcomes = dict(session.execute(select(CampaignMember.outcome, func.count())
                                    .where(CampaignMember.campaign_id == campaign.id)
                                    .group_by(CampaignMember.outcome)).all())
    done = sum(outcomes.values())
    return {"campaign_id": campaign.id, "year": campaign.year, "members_total": total, "done": done,
            "issued": outcomes.get("issued", 0), "already_called": outcomes.get("already_called", 0),
            "not_affiliated": outcomes.get("not_affiliated", 0),
            "started_at": campaign.started_at.isoformat(),
            "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None}


def start(session: Session, year) -> dict:
    """Open the campaign of ``year`` (or find it again) and list the members still to call, in file-number
    order (so an interrupted run resumes where it stopped)."""
    year = _check_year(year)
    cid = campaign_id(year)
    campaign = session.get(Campaign, cid)
    if campaign is None:
        campaign = Campaign(id=cid, kind=KIND, year=year, started_at=datetime.now(timezone.utc))
        try:
            with session.begin_nested():  # two operators starting it at once
                session.add(campaign)
        except IntegrityError:
            campaign = session.get(Campaign, cid)
    done = select(CampaignMember.file_number).where(CampaignMember.campaign_id == cid)
    pending = list(session.scalars(select(Contributor.file_number)
                                   .where(Contributor.file_number.not_in(done))
                                   .order_by(Contributor.file_number)))
    view = progress(session, campaign)
    view["pending"] = pending
    return view


def call_member(session: Session, cid: str, file_number: str, as_of: date) -> str:
    """Issue one member's provisional call for the campaign; returns the outcome (``issued``,
    ``already_called``, or the outcome recorded by an earlier run)."""
    campaign = session.get(Campaign, cid)
    if campaign is None:
        raise NotFound(f"no campaign {cid}", {})
    done = session.get(CampaignMember, (cid, file_number))
    if done is not None:
        return done.outcome
    contributor = calls.lock_member(session, file_number)  # a declaration handled meanwhile waits, or is seen
    if contributor is None:
        raise NotFound(f"no contributor {file_number}", {})
    existing = session.scalar(select(Assessment.id).where(Assessment.file_number == file_number,
                                                          Assessment.year == campaign.year).limit(1))
    assessment_id = None
    if existing is not None:
        outcome = "already_called"
    elif contributor.affiliation_date is not None and contributor.affiliation_date.year > campaign.year:
        outcome = "not_affiliated"  # affiliated from a later year: nothing to call
    else:
        assessment = calls.issue_call(session, file_number, campaign.year, "provisional", as_of=as_of,
                                      trigger="campaign", campaign_id=cid)
        assessment_id, outcome = assessment.id, "issued"
    session.add(CampaignMember(campaign_id=cid, file_number=file_number, outcome=outcome,
                               assessment_id=assessment_id, done_at=datetime.now(timezone.utc)))
    session.flush()
    return outcome


def finish(session: Session, cid: str) -> dict:
    """Mark the campaign finished when every member is done; its progress either way."""
    campaign = session.get(Campaign, cid)
    if campaign is None:
        raise NotFound(f"no campaign {cid}", {})
    view = progress(session, campaign)
    if view["done"] >= view["members_total"] and campaign.finished_at is None:
        campaign.finished_at = datetime.now(timezone.utc)
        session.flush()
        view = progress(session, campaign)
    return view
