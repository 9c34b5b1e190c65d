"""Which channel reaches a member (plain rules, no I/O)."""
from __future__ import annotations

EMAIL = "email"
POST = "post"


def choose_channel(contact: dict) -> str:
    """Email only to a verified address that has not bounced, for a member who
    did not ask for paper; post otherwise (domain reference §2)."""
    if contact.get("prefers_paper"):
        return POST
    if contact.get("email") and contact.get("email_verified") and not contact.get("email_bounced"):
        return EMAIL
    return POST


def why_post(contact: dict) -> str:
    """A short French reason, kept in the delivery log."""
    if contact.get("prefers_paper"):
        return "Vous avez choisi de recevoir nos avis par courrier."
    if not contact.get("email"):
        return "Aucune adresse électronique n'est enregistrée."
    if contact.get("email_bounced"):
        return "Votre adresse électronique a été refusée par votre messagerie : merci de la corriger."
    return "Votre adresse électronique n'est pas encore vérifiée."


def usable_postal_address(contact: dict) -> bool:
    """A name and at least two address lines, the last one starting with a postcode
    (5 digits in France) or naming a foreign country."""
    lines = [line.strip() for line in contact.get("address_lines") or [] if line and line.strip()]
    if len(lines) < 2 or not (contact.get("full_name") or "").strip():
        return False
    locality = lines[-1]
    has_postcode = any(len(tok) == 5 and tok.isascii() and tok.isdigit() for tok in locality.split())
    return has_postcode or len(lines) >= 3
