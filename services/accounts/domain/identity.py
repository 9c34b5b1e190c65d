"""Identity rules: file numbers (domain reference §2)."""
from __future__ import annotations

import re

_FILE_NUMBER = re.compile(r"[0-9]{7}|[0-9]{9}")


def is_file_number(value: str) -> bool:
    """7 digits (contributors, retirees, daily allowance) or 9 digits (survivor's
    pension, annuity). No checksum rule is published [A]."""
    return isinstance(value, str) and _FILE_NUMBER.fullmatch(value) is not None


def category_of(file_number: str) -> str:
    return "contributor" if len(file_number) == 7 else "survivor_or_annuitant"


_NIR = re.compile(r"([1-478])([0-9]{2})([0-9]{2})(2A|2B|[0-9]{2})([0-9]{3})([0-9]{3})([0-9]{2})")


def check_nir(value: str) -> str | None:
    """The problem with a social security number (NIR), or None when valid.

    15 characters (spaces allowed): sex, birth year, month, department (2A/2B
    for Corsica), commune, order, and the key ``97 - (number mod 97)``, where
    Corsica's 2A counts as 19 and 2B as 18."""
    if not isinstance(value, str):
        return "format"
    compact = value.replace(" ", "").upper()
    match = _NIR.fullmatch(compact)
    if match is None:
        return "format"
    month = int(match.group(3))
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return "format"
    body = compact[:13].replace("2A", "19", 1) if match.group(4) == "2A" else (
        compact[:13].replace("2B", "18", 1) if match.group(4) == "2B" else compact[:13])
    if 97 - int(body) % 97 != int(match.group(7)):
        return "key"
    return None
