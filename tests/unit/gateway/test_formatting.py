"""French formatting of amounts and dates (gateway/formatting.py)."""
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from gateway.formatting import FILTERS, day, euros, when

NNBSP = "\u202f"
NBSP = "\u00a0"


@pytest.mark.parametrize("value, text", [
    (Decimal("9126"), f"9{NNBSP}126,00{NBSP}€"),
    (Decimal("9126.5"), f"9{NNBSP}126,50{NBSP}€"),
    (Decimal("0"), f"0,00{NBSP}€"),
    (Decimal("0.07"), f"0,07{NBSP}€"),
    (Decimal("999"), f"999,00{NBSP}€"),
    (Decimal("1000"), f"1{NNBSP}000,00{NBSP}€"),
    (Decimal("12543.66"), f"12{NNBSP}543,66{NBSP}€"),
    (Decimal("1234567.89"), f"1{NNBSP}234{NNBSP}567,89{NBSP}€"),
    (Decimal("99999999.99"), f"99{NNBSP}999{NNBSP}999,99{NBSP}€"),
    ("40000.00", f"40{NNBSP}000,00{NBSP}€"),
    (40000, f"40{NNBSP}000,00{NBSP}€"),
    (0, f"0,00{NBSP}€"),
])
def test_euros(value, text):
    assert euros(value) == text


@pytest.mark.parametrize("value, text", [
    (Decimal("-1234.5"), f"-1{NNBSP}234,50{NBSP}€"),
    (Decimal("-0.01"), f"-0,01{NBSP}€"),
    ("-9126", f"-9{NNBSP}126,00{NBSP}€"),
])
def test_negative_euros(value, text):
    assert euros(value) == text


def test_negative_zero_has_no_sign():
    assert euros(Decimal("-0.00")) == f"0,00{NBSP}€"
    assert euros(Decimal("-0.001")) == f"0,00{NBSP}€"


@pytest.mark.parametrize("value", [None, ""])
def test_euros_of_nothing(value):
    assert euros(value) == "—"


@pytest.mark.parametrize("value, text", [
    ("2026-11-28T13:05:00+00:00", "28 novembre 2026 à 14 h 05"),  # winter: UTC+1
    ("2026-07-14T08:00:00+00:00", "14 juillet 2026 à 10 h 00"),   # summer: UTC+2
    ("2026-12-31T23:30:00+00:00", "1 janvier 2027 à 0 h 30"),     # day and year change
    ("2026-03-29T00:59:00+00:00", "29 mars 2026 à 1 h 59"),       # just before DST
    ("2026-03-29T01:00:00+00:00", "29 mars 2026 à 3 h 00"),       # DST starts
    ("2026-08-15T12:00:00+02:00", "15 août 2026 à 12 h 00"),
    ("2026-02-01T09:07:00", "1 février 2026 à 9 h 07"),           # naive: taken as is
])
def test_when_in_paris_time(value, text):
    assert when(value) == text


def test_when_accepts_datetimes():
    assert when(datetime(2026, 11, 28, 13, 5, tzinfo=timezone.utc)) == "28 novembre 2026 à 14 h 05"


@pytest.mark.parametrize("value", [None, ""])
def test_when_of_nothing(value):
    assert when(value) == "—"


@pytest.mark.parametrize("value, text", [
    ("2026-11-28", "28 novembre 2026"),
    ("2026-02-01", "1 février 2026"),
    (date(2026, 12, 25), "25 décembre 2026"),
    (None, "—"),
    ("", "—"),
])
def test_day(value, text):
    assert day(value) == text


def test_filters_registered():
    assert FILTERS == {"euros": euros, "when": when, "day": day}
