"""Messaging rules: working days with French public holidays, roles, texts."""
from __future__ import annotations

from datetime import date, datetime, timezone

from services.messaging.domain import rules


def test_working_days_skip_weekends_and_french_public_holidays():
    assert rules.is_working_day(date(2026, 11, 27))  # a Friday
    assert not rules.is_working_day(date(2026, 11, 28))  # Saturday
    assert not rules.is_working_day(date(2026, 11, 11))  # Armistice
    assert not rules.is_working_day(date(2026, 5, 14))  # Ascension
    assert not rules.is_working_day(date(2026, 4, 6))  # Easter Monday
    # Friday 24 December 2027 + 1 working day: Christmas falls on Saturday -> Monday 27
    assert rules.add_working_days(date(2027, 12, 24), 1) == date(2027, 12, 27)
    # Tuesday 10 November 2026 + 5: the 11th is off -> Wednesday 18
    assert rules.add_working_days(date(2026, 11, 10), 5) == date(2026, 11, 18)


def test_expected_reply_is_counted_in_paris_days():
    # 23:30 UTC on Friday 27 November is already Saturday in Paris: counting starts from Saturday
    posted = datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc)
    assert rules.expected_reply_on(posted) == date(2026, 12, 4)
    assert rules.expected_reply_on(datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)) == \
        date(2026, 12, 4)
    assert rules.expected_reply_on(datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)) == \
        date(2026, 12, 3)


def test_roles():
    assert rules.allowed("advisor", "reply") and not rules.allowed("advisor", "response_times")
    assert rules.allowed("supervisor", "response_times") and rules.allowed("admin", "close")
    assert not rules.allowed("member", "read") and not rules.allowed(None, "read")


def test_text_checks():
    assert rules.check_text("", "x", need_subject=True) == {"subject": ["required"]}
    assert rules.check_text("a" * 151, " ", need_subject=True) == {
        "subject": ["message_subject_too_long"], "body": ["required"]}
    assert rules.check_text(None, "b" * 8001, need_subject=False) == {
        "body": ["message_body_too_long"]}
