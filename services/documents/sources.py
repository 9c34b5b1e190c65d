"""What each event (or request) gives each kind of document, and whether the
member is told about it.

Plain functions from an event (wire form: decimal strings, ISO dates, as the
renderers want) and the member's identity to a renderer's data dict.

How the member is told, so that one declaration yields one message:
- ``contributions_recalculated`` gives the statement, announced (one email or
  letter), and, when a regularisation changes the total of the year, the
  regularisation notice, announced in the same message (``also_issued``);
  a declaration that regularises year N and adjusts the call of N+1 makes one
  decision: the statement of N+1 is announced in the message of N (v3:
  ``also_announced`` on the regularisation, ``announced_with`` on the
  adjusted call, which is not announced on its own);
- ``schedule_changed`` caused by a new assessment (``reason`` "assessment")
  gives the new payment schedule, not announced: the statement of the same
  chain is; a schedule the member changed (``frequency_changed``) is
  announced on its own (one message per change they made);
- a certificate asked for on screen is not announced (the member has it).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from carpimko.events import Event

SCHEDULE = "payment_schedule"
REGULARISATION = "regularisation_notice"
CERTIFICATE = "contributions_certificate"

# statuses of contributions_recalculated that may regularise a year; "adjusted"
# (the call recomputed on N-1 income) and "provisional" never do
REGULARISING_STATUSES = ("regularised",)


def _member(member: dict) -> dict:
    return {"full_name": member["full_name"], "address_lines": member["address_lines"]}


def regularises(payload: dict) -> bool:
    """A regularisation that changes the total of a year: a regularised
    assessment replacing a previous one with another total."""
    previous = payload.get("previous_total")
    return (payload.get("status") in REGULARISING_STATUSES and previous is not None
            and Decimal(str(previous)) != Decimal(str(payload["total"])))


def statement_title(year: int) -> str:
    return f"Relevé de cotisations {year}"


def statement_notified(event: Event) -> bool:
    """A call announced in another call's message (``announced_with``, v3) is
    not announced on its own; v1 and v2 calls always are."""
    return event.payload.get("announced_with") is None


def also_announced_titles(event: Event) -> list[str]:
    """The statements of the calls announced in this call's message (v3)."""
    return [statement_title(call["year"]) for call in event.payload.get("also_announced", [])]


def regularisation_title(year: int) -> str:
    return f"Avis de régularisation {year}"


def regularisation_data(event: Event, member: dict, issued_on: date,
                        verification_block: dict | None) -> dict:
    """The notice from ``contributions_recalculated``: the previous total against
    the new one, and the new per-scheme amounts (the event does not carry the
    previous per-scheme amounts)."""
    p = event.raw["payload"]
    previous, total = Decimal(p["previous_total"]), Decimal(p["total"])
    return {
        "file_number": event.member_id, "member": _member(member),
        "issued_on": issued_on.isoformat(), "verification": verification_block,
        "year": p["year"], "income_used": p["income_used"],
        "regularised_lines": [{"label": line["label"], "amount": line["amount"]}
                              for line in p["lines"]],
        "provisional_total": p["previous_total"], "regularised_total": p["total"],
        "balance": f"{total - previous:.2f}",
    }


def schedule_title(year: int) -> str:
    return f"Échéancier de paiement {year}"


def schedule_notified(event: Event) -> bool:
    """A schedule respread by a new assessment is announced with its statement: contributions stages it with
    the assessment's ``contributions_recalculated``, whatever issued the call (a declaration, the yearly
    campaign, the member's estimate). Only a change the member made themselves is announced on its own."""
    return event.payload["reason"] != "assessment"


def schedule_data(event: Event, member: dict, issued_on: date,
                  verification_block: dict | None) -> dict:
    p = event.raw["payload"]
    return {
        "file_number": event.member_id, "member": _member(member),
        "issued_on": issued_on.isoformat(), "verification": verification_block,
        "year": p["year"], "frequency": p["frequency"],
        "instalments": [{"due_on": i["due_date"], "amount": i["amount"]}
                        for i in p["instalments"]],
        "total": p["total"], "credit": p["credit"], "previous_total": p.get("previous_total"),
    }


def certificate_title(year: int) -> str:
    return f"Attestation de cotisations versées en {year}"


def certificate_data(file_number: str, year: int, payments: list[dict], member: dict,
                     issued_on: date, verification_block: dict | None) -> dict:
    """The certificate from the payments received in the calendar year ``year``
    (as the contributions service lists them: paid_on, year, amount)."""
    items = [{"paid_on": p["paid_on"], "contribution_year": int(p["year"]),
              "amount": p["amount"]} for p in sorted(payments, key=lambda p: p["paid_on"])]
    total = sum((Decimal(p["amount"]) for p in payments), Decimal("0.00"))
    return {
        "file_number": file_number, "member": _member(member),
        "issued_on": issued_on.isoformat(), "verification": verification_block,
        "year": year, "payments": items, "total": f"{total:.2f}",
    }
