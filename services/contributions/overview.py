"""Read model of "Mes cotisations": each year's current assessment, every line, and what changed since the
previous call and why (service layer; nothing is ever edited, history is read)."""
from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Assessment, Declaration


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _lines(assessment: Assessment) -> list[dict]:
    return [{"scheme": l.scheme, "label": l.label, "base": _money(l.base), "rate": l.rate,
             "fixed": _money(l.fixed), "amount": _money(l.amount)} for l in assessment.lines]


def _basis(assessment: Assessment) -> str:
    """``income:2024``, ``no_income:2024``, ``flat_start``, ``estimate:2026`` (older rows: regularised on
    their own year's income)."""
    basis = assessment.basis or ("income" if assessment.income_declared else "no_income")
    year = assessment.income_year if assessment.basis else assessment.year
    return basis if basis == "flat_start" or year is None else f"{basis}:{year}"


def changes(previous: Assessment | None, current: Assessment, declaration: Declaration | None,
            previous_declaration: Declaration | None) -> dict | None:
    """What changed from ``previous`` to ``current``: per-line differences and the reasons (codes with values).

    Reasons: ``income_changed`` (income used, from/to), ``parameters_changed`` (scale version, from/to),
    ``basis_changed`` (which income the call is on, e.g. ``income:2024`` to ``income:2025``),
    ``conventioned_income_changed``, ``conventionne_changed``, ``estimate_surcharge`` (amount added).
    """
    if previous is None:
        return None
    before = {l.scheme: l.amount for l in previous.lines}
    after = {l.scheme: l.amount for l in current.lines}
    lines = []
    for scheme in list(after) + [s for s in before if s not in after]:
        old, new = before.get(scheme, Decimal("0.00")), after.get(scheme, Decimal("0.00"))
        if old != new:
            label = next((l.label for l in [*current.lines, *previous.lines] if l.scheme == scheme), scheme)
            lines.append({"scheme": scheme, "label": label, "previous": _money(old), "current": _money(new),
                          "difference": _money(new - old)})
    reasons = []
    if previous.income_used != current.income_used:
        reasons.append({"code": "income_changed", "previous": _money(previous.income_used),
                        "current": _money(current.income_used),
                        "previous_declared": previous.income_declared, "current_declared": current.income_declared})
    if (previous.basis, previous.income_year) != (current.basis, current.income_year) and current.basis:
        reasons.append({"code": "basis_changed", "previous": _basis(previous), "current": _basis(current)})
    old_conv = previous_declaration.conventioned_income if previous_declaration else None
    new_conv = declaration.conventioned_income if declaration else None
    if old_conv != new_conv and previous_declaration is not None and declaration is not None:
        reasons.append({"code": "conventioned_income_changed", "previous": _money(old_conv),
                        "current": _money(new_conv)})
    if previous.conventionne != current.conventionne:
        reasons.append({"code": "conventionne_changed", "previous": previous.conventionne,
                        "current": current.conventionne})
    if previous.parameters_version != current.parameters_version:
        reasons.append({"code": "parameters_changed", "previous": previous.parameters_version,
                        "current": current.parameters_version})
    if current.surcharge:
        reasons.append({"code": "estimate_surcharge", "previous": None, "current": _money(current.surcharge)})
    return {"previous_total": _money(previous.total), "difference": _money(current.total - previous.total),
            "previous_computed_at": previous.computed_at.isoformat(), "lines": lines, "reasons": reasons}


def contributions(session: Session, file_number: str) -> list[dict]:
    """Newest year first; for each year the current assessment and the changes since the one before it."""
    rows = session.scalars(select(Assessment).where(Assessment.file_number == file_number)
                           .order_by(Assessment.year.desc(), Assessment.computed_at.desc())).all()
    by_year: dict[int, list[Assessment]] = {}
    for row in rows:
        by_year.setdefault(row.year, []).append(row)
    out = []
    for year, history in by_year.items():
        current = next((a for a in history if a.is_current), history[0])
        older = [a for a in history if a is not current and a.computed_at <= current.computed_at]
        previous = older[0] if older else None
        declaration = session.get(Declaration, current.declaration_id) if current.declaration_id else None
        previous_declaration = (session.get(Declaration, previous.declaration_id)
                                if previous is not None and previous.declaration_id else None)
        out.append({
            "year": year,
            "assessment_id": current.id,
            "status": current.status,
            "final": current.status == "regularised",
            "basis": current.basis,
            "income_year": current.income_year,
            "trigger": current.trigger,
            "surcharge": _money(current.surcharge),
            "previous_status": previous.status if previous is not None else None,
            "computed_at": current.computed_at.isoformat(),
            "parameters_version": current.parameters_version,
            "income_used": _money(current.income_used),
            "income_declared": current.income_declared,
            "conventionne": current.conventionne,
            "declared_income": _money(declaration.professional_income) if declaration else None,
            "conventioned_income": _money(declaration.conventioned_income) if declaration else None,
            "total": _money(current.total),
            "lines": _lines(current),
            "notes": json.loads(current.notes),
            "calls": len(history),
            "changes": changes(previous, current, declaration, previous_declaration),
        })
    return out
