"""Language-neutral value formatting used as jinja2 filters and tests.

The templates hold every word; these helpers only turn data into the French
typographic conventions for numbers and dates:

* thousands separator: U+00A0 NO-BREAK SPACE (not U+202F NARROW NO-BREAK
  SPACE, which the embedded Bitstream Vera fonts have no glyph for);
* decimal separator: comma;
* a no-break space before "€" and "%";
* dates as DD/MM/YYYY (long dates such as "28 novembre 2026" are built by the
  `long_date` macro of the templates, which own the month names).

Amounts arrive as decimal strings ("9126.00"); floats are refused so that no
binary rounding can slip into an official document.
"""

from __future__ import annotations

import datetime as _dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

NBSP = "\u00a0"
EURO = "\u20ac"

_CENT = Decimal("0.01")


def to_decimal(value, what: str = "value") -> Decimal:
    """Parse a decimal string (or int / Decimal) into a finite Decimal.

    Raises ValueError for floats, booleans, None, and anything unparsable.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        raise ValueError(f"{what} must be a decimal string, got {value!r}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what} is not a decimal number: {value!r}") from None
    else:
        raise ValueError(f"{what} must be a decimal string, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what} is not a finite number: {value!r}")
    return result


def _group_thousands(digits: str) -> str:
    groups = []
    while len(digits) > 3:
        groups.append(digits[-3:])
        digits = digits[:-3]
    groups.append(digits)
    return NBSP.join(reversed(groups))


def format_number(value, places: int = 2) -> str:
    """"9126.5" -> "9 126,50" (U+00A0 between thousands, comma for decimals).

    Rounds half up to `places` decimals.
    """
    number = to_decimal(value)
    quantum = Decimal(1).scaleb(-places)
    number = number.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):.{places}f}"
    whole, _, fraction = text.partition(".")
    result = sign + _group_thousands(whole)
    if places:
        result += "," + fraction
    return result


def format_money(value) -> str:
    """"9126.00" -> "9 126,00 €" (no-break spaces)."""
    return f"{format_number(value, 2)}{NBSP}{EURO}"


def format_rate(value) -> str:
    """"8.73" -> "8,73 %"; at least two decimals, more only when significant
    ("0.535" -> "0,535 %", "10.1" -> "10,10 %")."""
    number = to_decimal(value)
    exponent = number.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{format_number(number, places)}{NBSP}%"


def to_date(value, what: str = "date") -> _dt.date:
    """ISO "2026-11-28" (or a date / datetime) -> datetime.date."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError(f"{what} must be an ISO date (YYYY-MM-DD), got {value!r}")


def format_date(value) -> str:
    """ISO "2026-11-28" -> "28/11/2026"."""
    return to_date(value).strftime("%d/%m/%Y")


def is_nonzero(value) -> bool:
    """Jinja test: true for a present, non-zero decimal ("0.00", "", None are false)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    return to_decimal(value) != 0


def is_positive(value) -> bool:
    """Jinja test: a decimal string above zero."""
    return to_decimal(value) > 0


def is_negative(value) -> bool:
    """Jinja test: a decimal string below zero."""
    return to_decimal(value) < 0


def absolute(value) -> str:
    """"-250.00" -> "250.00" (for wording that carries the sign itself)."""
    return str(abs(to_decimal(value)))


def format_points(value) -> str:
    """Points: "525" -> "525,00", "12.5" -> "12,50"."""
    return format_number(value, 2)


FILTERS = {
    "money": format_money,
    "number": format_number,
    "rate": format_rate,
    "date": format_date,
    "as_date": to_date,
    "absolute": absolute,
    "points": format_points,
}

TESTS = {
    "nonzero": is_nonzero,
    "positive": is_positive,
    "negative": is_negative,
}
