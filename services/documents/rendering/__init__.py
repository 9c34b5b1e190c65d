"""Render the fund's official PDF documents from jinja2 templates.

Public API (pure Python: no nameko, no database):

    render_contribution_statement(data: dict) -> bytes
        "Appel et relevé de cotisations" for one year.
    render_letter(data: dict) -> bytes
        Postal notification letter ("Un nouveau document est disponible dans
        votre espace personnel"); it carries no personal figure.
    render_payment_schedule, render_regularisation_notice,
    render_contributions_certificate, render_career_statement,
    render_payment_certificate, render_access_letter (see ``kinds``)
    RENDERERS: kind -> renderer

Each validates its input first and raise ValueError naming the first
missing or malformed key (e.g. "contribution statement: missing required key
'lines[1].amount'"). Amounts are decimal strings, dates ISO strings.

Every document may carry ``verification``: None, or {"code": str, "url": str}
(printed on page 1 with a QR code of the url, see the verification module of
the service).

Templates (all the French wording) are in services/documents/templates/:
jinja2 renders a small XML layout that ``engine`` draws on a ReportLab canvas,
with Bitstream Vera TrueType fonts (shipped with reportlab) embedded in every PDF.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from . import formatting
from .engine import render_layout, render_pdf
from .formatting import format_date, format_money, format_number, format_rate

__all__ = [
    "render_contribution_statement",
    "render_letter",
    "STATEMENT_TEMPLATE",
    "LETTER_TEMPLATE",
    "STATEMENT_STATUSES",
    "format_money",
    "format_number",
    "format_rate",
    "format_date",
    "render_layout",
    "render_payment_schedule",
    "render_regularisation_notice",
    "render_contributions_certificate",
    "render_career_statement",
    "render_payment_certificate",
    "render_access_letter",
    "RENDERERS",
]

STATEMENT_TEMPLATE = "contribution_statement.xml.j2"
LETTER_TEMPLATE = "letter.xml.j2"

STATEMENT_STATUSES = ("regularised", "provisional", "adjusted")

# A postal address holds at most 6 lines (NF Z10-011): the name plus 5.
MAX_ADDRESS_LINES = 5

# characters XML 1.0 cannot carry (they would break the generated XML layout)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _Validator:
    def __init__(self, document: str):
        self.document = document

    def fail(self, message: str):
        raise ValueError(f"{self.document}: {message}")

    def mapping(self, value, path: str) -> Mapping:
        if not isinstance(value, Mapping):
            where = f"'{path}'" if path else "data"
            self.fail(f"{where} must be a mapping, got {type(value).__name__}")
        return value

    def require(self, data: Mapping, key: str, prefix: str = ""):
        path = f"{prefix}{key}"
        if key not in data:
            self.fail(f"missing required key '{path}'")
        if data[key] is None:
            self.fail(f"required key '{path}' is None")
        return data[key]

    def printable(self, value: str, path: str) -> str:
        if _XML_ILLEGAL.search(value):
            self.fail(f"'{path}' contains a control character: {value!r}")
        return value

    def text(self, data: Mapping, key: str, prefix: str = "") -> str:
        value = self.require(data, key, prefix)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"'{prefix}{key}' must be a non-empty string, got {value!r}")
        return self.printable(value, f"{prefix}{key}")

    def decimal(self, data: Mapping, key: str, prefix: str = "", required: bool = True):
        if not required and data.get(key) is None:
            return None
        value = self.require(data, key, prefix)
        try:
            formatting.to_decimal(value, f"'{prefix}{key}'")
        except ValueError as exc:
            self.fail(str(exc))
        return value

    def date(self, data: Mapping, key: str, prefix: str = ""):
        value = self.require(data, key, prefix)
        try:
            formatting.to_date(value, f"'{prefix}{key}'")
        except ValueError as exc:
            self.fail(str(exc))
        return value

    def member(self, data: Mapping) -> dict:
        member = self.mapping(self.require(data, "member"), "member")
        full_name = self.text(member, "full_name", "member.")
        lines = self.require(member, "address_lines", "member.")
        if isinstance(lines, (str, bytes)) or not isinstance(lines, Sequence):
            self.fail("'member.address_lines' must be a list of strings")
        if not lines:
            self.fail("'member.address_lines' is empty")
        if len(lines) > MAX_ADDRESS_LINES:
            self.fail(
                f"'member.address_lines' has {len(lines)} lines, "
                f"at most {MAX_ADDRESS_LINES} fit in the envelope window"
            )
        for index, line in enumerate(lines):
            if not isinstance(line, str) or not line.strip():
                self.fail(f"'member.address_lines[{index}]' must be a non-empty string")
            self.printable(line, f"member.address_lines[{index}]")
        return {"full_name": full_name, "address_lines": list(lines)}

    def verification(self, data: Mapping) -> dict | None:
        value = data.get("verification")
        if value is None:
            return None
        value = self.mapping(value, "verification")
        return {"code": self.text(value, "code", "verification."),
                "url": self.text(value, "url", "verification.")}

    def file_number(self, data: Mapping) -> str:
        value = self.require(data, "file_number")
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            self.fail(f"'file_number' must be a non-empty string, got {value!r}")
        return self.printable(str(value), "file_number")


def _statement_context(data) -> dict:
    v = _Validator("contribution statement")
    v.mapping(data, "")
    context = {
        "file_number": v.file_number(data),
        "member": v.member(data),
    }
    year = v.require(data, "year")
    if isinstance(year, bool) or not isinstance(year, int):
        v.fail(f"'year' must be an integer, got {year!r}")
    status = v.require(data, "status")
    if status not in STATEMENT_STATUSES:
        v.fail(f"'status' must be one of {', '.join(STATEMENT_STATUSES)}; got {status!r}")
    income_declared = data.get("income_declared")
    if income_declared is not None and not isinstance(income_declared, bool):
        v.fail(f"'income_declared' must be a boolean or None, got {income_declared!r}")

    raw_lines = v.require(data, "lines")
    if isinstance(raw_lines, (str, bytes, Mapping)) or not isinstance(raw_lines, Sequence):
        v.fail("'lines' must be a list of mappings")
    if not raw_lines:
        v.fail("'lines' is empty")
    lines = []
    for index, raw in enumerate(raw_lines):
        prefix = f"lines[{index}]."
        line = v.mapping(raw, f"lines[{index}]")
        lines.append({
            "scheme": line.get("scheme"),
            "label": v.text(line, "label", prefix),
            "base": v.decimal(line, "base", prefix, required=False),
            "rate": v.decimal(line, "rate", prefix, required=False),
            "fixed": v.decimal(line, "fixed", prefix, required=False),
            "amount": v.decimal(line, "amount", prefix),
        })

    notes = data.get("notes") or []
    if isinstance(notes, (str, bytes)) or not isinstance(notes, Sequence):
        v.fail("'notes' must be a list of strings")
    for index, note in enumerate(notes):
        if not isinstance(note, str):
            v.fail(f"'notes[{index}]' must be a string, got {note!r}")
        v.printable(note, f"notes[{index}]")


    income_year = data.get("income_year")
    if income_year is not None and (isinstance(income_year, bool) or not isinstance(income_year, int)):
        v.fail(f"'income_year' must be an integer or None, got {income_year!r}")
    basis = data.get("basis")
    if basis is not None and basis not in ("income", "no_income", "flat_start", "estimate"):
        v.fail(f"'basis' must be income, no_income, flat_start or estimate; got {basis!r}")
    changes = data.get("changes")
    if changes is not None:
        v.mapping(changes, "changes")
        changes = {"previous_total": v.decimal(changes, "previous_total", "changes."),
                   "difference": v.decimal(changes, "difference", "changes.")}

    context.update({
        "income_year": income_year,
        "basis": basis,
        "changes": changes,
        "year": year,
        "status": status,
        "issued_on": v.date(data, "issued_on"),
        "income_used": v.decimal(data, "income_used"),
        "income_declared": income_declared,
        "lines": lines,
        "total": v.decimal(data, "total"),
        "parameters_version": v.text(data, "parameters_version"),
        "notes": list(notes),
        "verification": v.verification(data),
    })
    return context


def _letter_context(data) -> dict:
    v = _Validator("letter")
    v.mapping(data, "")
    return {
        "file_number": v.file_number(data),
        "member": v.member(data),
        "issued_on": v.date(data, "issued_on"),
        "subject": v.text(data, "subject"),
        "document_label": v.text(data, "document_label"),
        "portal_url": v.text(data, "portal_url"),
        "verification": v.verification(data),
    }


ACCOUNT_NOTICES = ("password_changed", "account_locked", "contact_changed", "message_posted")


def render_account_notice(data: dict) -> bytes:
    """A postal notice about the member's account (password changed, account
    locked, address changed), for members no email reaches.

    Data: file_number, member, issued_on, subject, portal_url, verification (or
    None), ``kind`` one of ACCOUNT_NOTICES, and optional short strings
    ``changed_on``, ``sessions_ended``, ``failures``.
    """
    context = _letter_context({**data, "document_label": data.get("subject", "")})
    notice = data.get("kind")
    if notice not in ACCOUNT_NOTICES:
        raise ValueError(f"account notice: 'kind' must be one of {', '.join(ACCOUNT_NOTICES)}, "
                         f"not {notice!r}")
    context.update(notice=notice, details={k: str(data[k]) for k in
                                           ("changed_on", "sessions_ended", "failures")
                                           if data.get(k) is not None})
    return render_pdf("account_notice.xml.j2", context)


def render_contribution_statement(data: dict) -> bytes:
    """Render the contribution statement ("Relevé de cotisations <year>") as PDF bytes.

    Raises ValueError when a required key is missing or malformed.
    """
    return render_pdf(STATEMENT_TEMPLATE, _statement_context(data))


def render_letter(data: dict) -> bytes:
    """Render the postal notification letter as PDF bytes.

    Raises ValueError when a required key is missing or malformed.
    """
    return render_pdf(LETTER_TEMPLATE, _letter_context(data))


from .kinds import (  # noqa: E402  (they use the validator above)
    payment_schedule_context,
    regularisation_notice_context,
    render_access_letter,
    render_career_statement,
    render_contributions_certificate,
    render_payment_certificate,
    render_payment_schedule,
    render_regularisation_notice,
)

#: every kind of document -> its renderer (data shapes in each docstring)
RENDERERS = {
    "contribution_statement": render_contribution_statement,
    "payment_schedule": render_payment_schedule,
    "regularisation_notice": render_regularisation_notice,
    "contributions_certificate": render_contributions_certificate,
    "career_statement": render_career_statement,
    "payment_certificate": render_payment_certificate,
    "access_letter": render_access_letter,
    "account_notice": render_account_notice,
    "notification_letter": render_letter,
}

#: The version of what the renderers draw (templates, engine, fonts, QR code).
#: Documents rendered on first read (see services/documents/deferred.py) store
#: it with their data snapshot at issue, and are only ever rendered by this
#: same version: a change that alters the bytes drawn for the same data must
#: bump it (tests/unit/documents/test_deferred.py fails until it is bumped),
#: and the documents issued under the previous version must be rendered
#: before the new one is deployed (the ``render_pending`` RPC), so that no
#: issued document silently changes.
LAYOUT_VERSION = "2026.1"

#: kind -> its data checks without drawing (the context the template gets):
#: what the issue path runs on a document it defers, so that data no renderer
#: would accept is refused at issue, not at the member's first read.
CHECKS = {
    "contribution_statement": _statement_context,
    "payment_schedule": payment_schedule_context,
    "regularisation_notice": regularisation_notice_context,
}


def check(kind: str, data: dict) -> None:
    """Raise ValueError, as ``RENDERERS[kind]`` would, when ``data`` cannot
    make a ``kind``; draws nothing. KeyError for a kind without checks."""
    CHECKS[kind](data)
