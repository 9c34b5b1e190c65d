"""Renderers of the fund's other documents, each from one data dict.

Common keys of every kind (validated like the statement's):
    file_number   "1234567" (7 or 9 digits)
    member        {"full_name": "Mme Claire MARTIN", "address_lines": ["12 rue des Lilas", "69003 LYON"]}
    issued_on     ISO date "2026-11-28"
    verification  None, or {"code": "K7QH-3MZP-XW9C-T4RB", "url": "<PUBLIC_URL>/verify/K7QH-..."}
Amounts are decimal strings ("9126.00"), never floats; dates ISO strings.
Every renderer raises ValueError naming the first missing or malformed key,
and refuses totals that do not add up.

Which event feeds which renderer is up to the issue that adds the event: the
documents service records the PDF with ``issuing.record_document``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from . import _Validator, formatting
from .engine import render_pdf

PAYMENT_FREQUENCIES = ("monthly", "quarterly", "half_yearly", "yearly")
PAYMENT_METHODS = ("direct_debit", "transfer", "cheque")
BENEFITS = ("retirement", "survivor", "invalidity", "daily_allowance")
ACCESS_PURPOSES = ("first_login", "password_reset")


# ------------------------------------------------------------------ helpers

def _common(v: _Validator, data) -> dict:
    v.mapping(data, "")
    return {"file_number": v.file_number(data), "member": v.member(data),
            "issued_on": v.date(data, "issued_on"), "verification": v.verification(data)}


def _year(v: _Validator, data, key: str = "year", prefix: str = "") -> int:
    year = v.require(data, key, prefix)
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        v.fail(f"'{prefix}{key}' must be a year (integer), got {year!r}")
    return year


def _integer(v: _Validator, data, key: str, prefix: str, low: int, high: int) -> int:
    value = v.require(data, key, prefix)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        v.fail(f"'{prefix}{key}' must be an integer from {low} to {high}, got {value!r}")
    return value


def _choice(v: _Validator, data, key: str, choices: tuple, required: bool = True):
    if not required and data.get(key) is None:
        return None
    value = v.require(data, key)
    if value not in choices:
        v.fail(f"'{key}' must be one of {', '.join(choices)}; got {value!r}")
    return value


def _items(v: _Validator, data, key: str) -> list[Mapping]:
    items = v.require(data, key)
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        v.fail(f"'{key}' must be a list of mappings")
    if not items:
        v.fail(f"'{key}' is empty")
    return [v.mapping(item, f"{key}[{index}]") for index, item in enumerate(items)]


def _dec(value) -> Decimal:
    return formatting.to_decimal(value)


def _check_sum(v: _Validator, parts, total, what: str, key: str) -> None:
    computed = sum((_dec(p) for p in parts), Decimal(0))
    if computed != _dec(total):
        v.fail(f"'{key}' is {total} but the {what} add up to {computed}")


def _month(v: _Validator, data, key: str, prefix: str) -> str:
    value = v.text(data, key, prefix)
    try:
        formatting.to_date(f"{value}-01")
        if len(value) != 7:
            raise ValueError
    except ValueError:
        v.fail(f"'{prefix}{key}' must be a month YYYY-MM, got {value!r}")
    return value


# ---------------------------------------------------------------- renderers

def payment_schedule_context(data: dict) -> dict:
    """"Échéancier de paiement": the instalments of one year's contributions.

    Data: the common keys plus
        year          2026
        frequency     "monthly" | "quarterly" | "half_yearly" | "yearly"
        method        "direct_debit" | "transfer" | "cheque" (optional)
        instalments   [{"due_on": "2026-01-05", "amount": "760.50"}, ...] (in order)
        total         "9126.00": the year's contributions
        credit        "0.00" (optional): what the instalments already due exceed a lower new
                      total by (refunded); the instalments add up to total + credit
        previous_total  the total of the schedule this one replaces (optional)
    """
    v = _Validator("payment schedule")
    context = _common(v, data)
    instalments = []
    for index, item in enumerate(_items(v, data, "instalments")):
        prefix = f"instalments[{index}]."
        instalments.append({"due_on": v.date(item, "due_on", prefix),
                            "amount": v.decimal(item, "amount", prefix)})
    total = v.decimal(data, "total")
    credit = v.decimal(data, "credit", required=False) or "0.00"
    if _dec(credit) < 0:
        v.fail(f"'credit' must not be negative, got {credit}")
    scheduled = str(_dec(total) + _dec(credit))
    _check_sum(v, [i["amount"] for i in instalments], scheduled, "instalments",
               "total + credit" if _dec(credit) else "total")
    context.update(year=_year(v, data), frequency=_choice(v, data, "frequency",
                                                          PAYMENT_FREQUENCIES),
                   method=_choice(v, data, "method", PAYMENT_METHODS, required=False),
                   instalments=instalments, total=total, credit=credit, scheduled=scheduled,
                   previous_total=v.decimal(data, "previous_total", required=False))
    return context


def render_payment_schedule(data: dict) -> bytes:
    """The PDF of :func:`payment_schedule_context`."""
    return render_pdf("payment_schedule.xml.j2", payment_schedule_context(data))


def regularisation_notice_context(data: dict) -> dict:
    """"Avis de régularisation": a year's provisional contributions against the
    final ones computed on the year's own income.

    Data: the common keys plus
        year               2025
        income_used        "40000.00" (the year's declared income)
        lines              [{"label": "Régime complémentaire", "provisional": "3100.00",
                             "regularised": "3480.00"}, ...], or
        regularised_lines  [{"label": ..., "amount": "3480.00"}, ...] when only the previous
                           total is known (a new assessment replacing the previous one)
        provisional_total  sum of the lines' provisional amounts (or the previous total)
        regularised_total  sum of the lines' regularised amounts
        balance            regularised_total - provisional_total (> 0: to pay, < 0: refunded)
        instalments_left   over how many instalments a balance to pay is spread (optional int)
    """
    v = _Validator("regularisation notice")
    context = _common(v, data)
    lines, regularised_lines = [], []
    provisional_total = v.decimal(data, "provisional_total")
    regularised_total = v.decimal(data, "regularised_total")
    balance = v.decimal(data, "balance")
    if data.get("lines") is None and data.get("regularised_lines") is not None:
        for index, item in enumerate(_items(v, data, "regularised_lines")):
            prefix = f"regularised_lines[{index}]."
            regularised_lines.append({"label": v.text(item, "label", prefix),
                                      "amount": v.decimal(item, "amount", prefix)})
        _check_sum(v, [l["amount"] for l in regularised_lines], regularised_total,
                   "regularised lines", "regularised_total")
    else:
        for index, item in enumerate(_items(v, data, "lines")):
            prefix = f"lines[{index}]."
            provisional = v.decimal(item, "provisional", prefix)
            regularised = v.decimal(item, "regularised", prefix)
            lines.append({"label": v.text(item, "label", prefix), "provisional": provisional,
                          "regularised": regularised,
                          "difference": str(_dec(regularised) - _dec(provisional))})
        _check_sum(v, [l["provisional"] for l in lines], provisional_total,
                   "lines' provisional amounts", "provisional_total")
        _check_sum(v, [l["regularised"] for l in lines], regularised_total,
                   "lines' regularised amounts", "regularised_total")
    if _dec(regularised_total) - _dec(provisional_total) != _dec(balance):
        v.fail(f"'balance' is {balance} but regularised_total - provisional_total is "
               f"{_dec(regularised_total) - _dec(provisional_total)}")
    left = data.get("instalments_left")
    if left is not None:
        left = _integer(v, data, "instalments_left", "", 1, 12)
    context.update(year=_year(v, data), income_used=v.decimal(data, "income_used"), lines=lines,
                   regularised_lines=regularised_lines,
                   provisional_total=provisional_total, regularised_total=regularised_total,
                   balance=balance, instalments_left=left)
    return context


def render_regularisation_notice(data: dict) -> bytes:
    """The PDF of :func:`regularisation_notice_context`."""
    return render_pdf("regularisation_notice.xml.j2", regularisation_notice_context(data))


def render_contributions_certificate(data: dict) -> bytes:
    """"Attestation de cotisations versées" (for the income tax return).

    Data: the common keys plus
        year       2025 (the year the contributions were paid in)
        payments   [{"label": "Régime de base", "amount": "4240.00"}, ...] (per scheme), or
                   [{"paid_on": "2025-03-05", "contribution_year": 2025, "amount": "760.50"}, ...]
                   (each payment received in the year, as the fund's books hold them)
        total      the sum of the payments
    """
    v = _Validator("contributions certificate")
    context = _common(v, data)
    payments = []
    for index, item in enumerate(_items(v, data, "payments")):
        prefix = f"payments[{index}]."
        if item.get("paid_on") is not None:
            payments.append({"label": None, "paid_on": v.date(item, "paid_on", prefix),
                             "contribution_year": _year(v, item, "contribution_year", prefix),
                             "amount": v.decimal(item, "amount", prefix)})
        else:
            payments.append({"label": v.text(item, "label", prefix),
                             "amount": v.decimal(item, "amount", prefix)})
    total = v.decimal(data, "total")
    _check_sum(v, [p["amount"] for p in payments], total, "payments", "total")
    context.update(year=_year(v, data), payments=payments, total=total)
    return render_pdf("contributions_certificate.xml.j2", context)


def render_career_statement(data: dict) -> bytes:
    """"Relevé de carrière": each year's income, quarters and points.

    Data: the common keys plus
        as_of   ISO date the record is given at
        years   [{"year": 2024, "income": "38000.00" or None (not known),
                  "quarters": 0..4, "rb_points": "498.75", "rc_points": "20.00",
                  "status": "final" | "provisional" (optional, default final),
                  "call": None or {"stage": "provisional" | "adjusted", "income_year": 2025,
                                   "income": "46000.00"} (optional: a year only called so far)}, ...]
    The totals (quarters, points) are computed here from the years: the final years' totals, and apart the
    provisional years' (figures that may still change are never added to the acquired ones).
    """
    v = _Validator("career statement")
    context = _common(v, data)
    years = []
    for index, item in enumerate(_items(v, data, "years")):
        prefix = f"years[{index}]."
        years.append({"year": _year(v, item, "year", prefix),
                      "income": v.decimal(item, "income", prefix, required=False),
                      "quarters": _integer(v, item, "quarters", prefix, 0, 4),
                      "rb_points": v.decimal(item, "rb_points", prefix),
                      "rc_points": v.decimal(item, "rc_points", prefix),
                      "status": _career_status(v, item, prefix),
                      "call": _career_call(v, item, prefix)})
    final = [y for y in years if y["status"] == "final"]
    provisional = [y for y in years if y["status"] == "provisional"]
    context.update(
        as_of=v.date(data, "as_of"), years=years,
        total_quarters=sum(y["quarters"] for y in final),
        total_rb_points=str(sum((_dec(y["rb_points"]) for y in final), Decimal(0))),
        total_rc_points=str(sum((_dec(y["rc_points"]) for y in final), Decimal(0))),
        provisional_years=[y["year"] for y in provisional],
        provisional_quarters=sum(y["quarters"] for y in provisional),
        provisional_rb_points=str(sum((_dec(y["rb_points"]) for y in provisional), Decimal(0))),
        provisional_rc_points=str(sum((_dec(y["rc_points"]) for y in provisional), Decimal(0))))
    return render_pdf("career_statement.xml.j2", context)


def _career_status(v: _Validator, item, prefix: str) -> str:
    status = item.get("status") or "final"
    if status not in ("final", "provisional"):
        v.fail(f"'{prefix}status' must be final or provisional, got {status!r}")
    return status


def _career_call(v: _Validator, item, prefix: str) -> dict | None:
    call = item.get("call")
    if call is None:
        return None
    call = v.mapping(call, f"{prefix}call")
    stage = call.get("stage")
    if stage not in ("provisional", "adjusted"):
        v.fail(f"'{prefix}call.stage' must be provisional or adjusted, got {stage!r}")
    if item.get("status", "final") != "provisional":
        v.fail(f"'{prefix}call': a year known only by a call is provisional")
    income_year = call.get("income_year")
    if income_year is not None:
        income_year = _year(v, call, "income_year", f"{prefix}call.")
    return {"stage": stage, "income_year": income_year,
            "income": v.decimal(call, "income", f"{prefix}call.", required=False)}


def render_payment_certificate(data: dict) -> bytes:
    """"Attestation de paiement" of a pension or an allowance over a year.

    Data: the common keys plus
        benefit      "retirement" | "survivor" | "invalidity" | "daily_allowance"
        year         2025
        payments     [{"period": "2025-01", "paid_on": "2025-01-09", "gross": "1250.00",
                       "net": "1130.40"}, ...]
        total_gross  the sum of the gross amounts
        total_net    the sum of the net amounts
    """
    v = _Validator("payment certificate")
    context = _common(v, data)
    payments = []
    for index, item in enumerate(_items(v, data, "payments")):
        prefix = f"payments[{index}]."
        payments.append({"period": _month(v, item, "period", prefix),
                         "paid_on": v.date(item, "paid_on", prefix),
                         "gross": v.decimal(item, "gross", prefix),
                         "net": v.decimal(item, "net", prefix)})
    total_gross = v.decimal(data, "total_gross")
    total_net = v.decimal(data, "total_net")
    _check_sum(v, [p["gross"] for p in payments], total_gross, "gross amounts", "total_gross")
    _check_sum(v, [p["net"] for p in payments], total_net, "net amounts", "total_net")
    context.update(benefit=_choice(v, data, "benefit", BENEFITS), year=_year(v, data),
                   payments=payments, total_gross=total_gross, total_net=total_net)
    return render_pdf("payment_certificate.xml.j2", context)


def render_access_letter(data: dict) -> bytes:
    """First-login or password letter, sent by post when no email is on file:
    a single-use code to set the password on the portal.

    Data: the common keys plus
        purpose        "first_login" | "password_reset"
        one_time_code  the single-use code (e.g. "48KQ-7XZM")
        expires_on     ISO date after which the code no longer works
        portal_url     "https://espace.carpimko.fr"
    """
    v = _Validator("access letter")
    context = _common(v, data)
    context.update(purpose=_choice(v, data, "purpose", ACCESS_PURPOSES),
                   one_time_code=v.text(data, "one_time_code"),
                   expires_on=v.date(data, "expires_on"), portal_url=v.text(data, "portal_url"))
    return render_pdf("access_letter.xml.j2", context)
