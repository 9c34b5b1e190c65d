"""The progress of a declaration through the chain, from what each service
knows (plain function: the gateway asks each service, this puts it together)."""
from __future__ import annotations

STEPS = ("declared", "contributions_recalculated", "document_generated", "member_notified")


def declaration_progress(declaration: dict, documents: list[dict], notifications: list[dict]) -> list[dict]:
    assessment = declaration.get("assessment") or {}
    statements = [d for d in documents if d["kind"] == "contribution_statement"]
    # a declaration of year Y may also adjust Y+1 (same chain): the statement of Y is the one to follow
    statement = next((d for d in statements if d.get("year") == declaration.get("year")),
                     statements[0] if statements else None)
    notice = next((n for n in notifications if n.get("status", "sent") == "sent"
                   and (statement is None or n.get("document_id") == statement["id"])), None)
    return [
        {"step": "declared", "done": True, "at": declaration["declared_at"]},
        {"step": "contributions_recalculated", "done": bool(assessment),
         "at": assessment.get("computed_at"),
         "total": assessment.get("total")},
        {"step": "document_generated", "done": statement is not None,
         "at": statement["created_at"] if statement else None,
         "document_id": statement["id"] if statement else None},
        {"step": "member_notified", "done": notice is not None,
         "at": notice["sent_at"] if notice else None,
         "channel": notice["channel"] if notice else None},
    ]


def is_complete(steps: list[dict]) -> bool:
    return all(step["done"] for step in steps)


def with_steps(declaration: dict, documents: list[dict], notifications: list[dict]) -> dict:
    """The declaration's view with its steps and whether the chain is complete."""
    steps = declaration_progress(declaration, documents, notifications)
    return {**declaration, "steps": steps, "complete": is_complete(steps)}
