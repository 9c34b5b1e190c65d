"""French formatting of amounts and dates for the web pages (jinja2 filters)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u202f"  # narrow no-break space, the French thousands separator
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre"]


def euros(value) -> str:
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    units, cents = f"{abs(amount):.2f}".split(".")
    groups = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    return f"{sign}{NBSP.join(groups)},{cents}\u00a0€"


def when(value) -> str:
    """ISO timestamp → "28 novembre 2026 à 14 h 05" (Paris time)."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(PARIS)
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year} à {moment.hour} h {moment.minute:02d}"


def day(value) -> str:
    if not value:
        return "—"
    d = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


FILTERS = {"euros": euros, "when": when, "day": day}
