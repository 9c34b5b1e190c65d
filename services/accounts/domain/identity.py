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
