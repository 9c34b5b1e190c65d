"""Identity rules: file numbers (domain reference §2)."""
from __future__ import annotations

import re

_FILE_NUMBER = re.compile(r"^(\d{7}|\d{9})$")


def is_file_number(value: str) -> bool:
    """7 digits (contributors, retirees, daily allowance) or 9 digits (survivor's
    pension, annuity). No checksum rule is published [A]."""
    return bool(_FILE_NUMBER.match(value or ""))


def category_of(file_number: str) -> str:
    return "contributor" if len(file_number) == 7 else "survivor_or_annuitant"
