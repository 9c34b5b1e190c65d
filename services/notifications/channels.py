"""Which channel reaches a member (plain rules, no I/O)."""
from __future__ import annotations

EMAIL = "email"
POST = "post"


def choose_channel(contact: dict) -> str:
    """A verified email address → email; otherwise → post (domain reference §2)."""
    if contact.get("email") and contact.get("email_verified"):
        return EMAIL
    return POST


def usable_postal_address(contact: dict) -> bool:
    lines = [line for line in contact.get("address_lines") or [] if line and line.strip()]
    return len(lines) >= 2
