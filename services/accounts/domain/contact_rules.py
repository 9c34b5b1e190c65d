"""Rules of a member's contact details: email, postal address (French or
foreign), phone. Each ``check_*`` answers ``(value, errors)`` where errors
maps a field to problem codes (French wording in the gateway's catalogue,
``contact_<code>``)."""
from __future__ import annotations

import re

FRANCE = "France"
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_FR_POSTCODE = re.compile(r"(?:0[1-9]|[1-8][0-9]|9[0-8])[0-9]{3}")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")


def check_email(value) -> tuple[str | None, dict]:
    if not isinstance(value, str) or not value.strip():
        return None, {"email": ["contact_required"]}
    email = value.strip()
    if len(email) > 254 or not _EMAIL.fullmatch(email) or ".." in email:
        return None, {"email": ["contact_email"]}
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}", {}


def check_phone(value) -> tuple[str | None, dict]:
    """A French number (10 digits from 0, spaces, dots or dashes allowed) or an
    international one (+ and 8 to 15 digits); stored as E.164. Empty clears it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, {}
    if not isinstance(value, str):
        return None, {"phone": ["contact_phone"]}
    compact = re.sub(r"[\s.\-()]", "", value)
    if re.fullmatch(r"0[1-9][0-9]{8}", compact):
        return "+33" + compact[1:], {}
    if re.fullmatch(r"\+[1-9][0-9]{7,14}", compact):
        return compact, {}
    return None, {"phone": ["contact_phone"]}


def _text(data: dict, name: str, limit: int, required: bool, errors: dict) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = ["contact_required"]
        return None
    if not isinstance(value, str) or not _PRINTABLE.fullmatch(value):
        errors[name] = ["contact_invalid"]
        return None
    value = " ".join(value.split())
    if len(value) > limit:
        errors[name] = ["contact_too_long"]
        return None
    return value


def check_address(data) -> tuple[dict | None, dict]:
    """``{"line1", "line2"?, "postcode", "city", "country"?}``: in France a
    5-digit postcode and the commune; abroad the country, the city and the
    postcode if the country uses one."""
    if not isinstance(data, dict):
        return None, {"address": ["contact_invalid"]}
    errors: dict = {}
    country = _text(data, "country", 60, False, errors) or FRANCE
    in_france = country.strip().lower() == "france"
    address = {
        "line1": _text(data, "line1", 120, True, errors),
        "line2": _text(data, "line2", 120, False, errors),
        "postcode": _text(data, "postcode", 10, in_france, errors),
        "city": _text(data, "city", 80, True, errors),
        "country": FRANCE if in_france else country,
    }
    if in_france and address["postcode"] and not _FR_POSTCODE.fullmatch(address["postcode"]):
        errors["postcode"] = ["contact_postcode"]
    return (None, errors) if errors else (address, {})
