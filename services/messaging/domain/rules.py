"""Messaging rules in plain Python: categories, statuses, who may do what,
and when the member can expect a reply.

Statuses: ``open`` (the fund has to answer), ``awaiting_member`` (the fund
asked the member something), ``answered`` (the fund replied), ``closed``.
A member's message reopens an ``answered`` or ``awaiting_member`` thread; a
closed thread is read-only (the member starts a new one).

Roles (staff accounts, ``services/accounts/staff.py``): an ``advisor`` reads
the inbox and threads, assigns, replies, writes internal notes and closes; a
``supervisor`` may also see the first-response times; an ``admin`` may do
everything. Any other role may do nothing.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

PARIS = ZoneInfo("Europe/Paris")

CATEGORIES = {
    "cotisations": "Cotisations",
    "retraite": "Retraite",
    "prevoyance": "Prévoyance, invalidité, décès",
    "compte": "Compte et connexion",
    "autre": "Autre question",
}
OPEN, AWAITING_MEMBER, ANSWERED, CLOSED = "open", "awaiting_member", "answered", "closed"
STATUSES = {
    OPEN: "En attente de réponse de la Carpimko",
    AWAITING_MEMBER: "En attente de votre réponse",
    ANSWERED: "Répondu",
    CLOSED: "Clôturé",
}
OUTCOMES = ("corrected", "confirmed")

# the fund's commitment: a reply within this many working days of the member's message
REPLY_WORKING_DAYS = 5
PHONE_DESK = "du lundi au vendredi, de 8 h 45 à 12 h 45"

PERMISSIONS = {
    "advisor": {"read", "reply", "note", "assign", "close"},
    "supervisor": {"read", "reply", "note", "assign", "close", "response_times"},
    "admin": {"read", "reply", "note", "assign", "close", "response_times"},
}

SUBJECT_MAX, BODY_MAX = 150, 8000


def allowed(role: str | None, action: str) -> bool:
    return action in PERMISSIONS.get(role or "", set())


@lru_cache(maxsize=16)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday, French public holidays excluded (metropolitan list)."""
    return day.weekday() < 5 and day not in _french_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself never counts)."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def expected_reply_on(posted_at: datetime, days: int = REPLY_WORKING_DAYS) -> date:
    """When the member can expect a reply to a message posted at ``posted_at``
    (counted in Paris working days from the day of posting)."""
    return add_working_days(posted_at.astimezone(PARIS).date(), days)


def status_after_member_message(status: str) -> str:
    if status == CLOSED:
        raise ValueError("closed")
    return OPEN


def check_text(subject: str | None, body: str, *, need_subject: bool) -> dict:
    """Field errors (codes for gateway/messages/fr.toml) of a new message."""
    errors: dict[str, list[str]] = {}
    if need_subject:
        if not isinstance(subject, str) or not subject.strip():
            errors["subject"] = ["required"]
        elif len(subject.strip()) > SUBJECT_MAX:
            errors["subject"] = ["message_subject_too_long"]
    if not isinstance(body, str) or not body.strip():
        errors["body"] = ["required"]
    elif len(body) > BODY_MAX:
        errors["body"] = ["message_body_too_long"]
    return errors
