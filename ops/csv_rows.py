"""What every CSV import of the fund checks the same way: the rejected-row
record, the file number and the year (batch declarations, bank payments)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_FILE_NUMBER = re.compile(r"[0-9]{7}|[0-9]{9}")


@dataclass
class Rejected:
    line: int
    reason: str


def file_number(row: dict) -> str:
    value = (row.get("file_number") or "").strip()
    if not _FILE_NUMBER.fullmatch(value):
        raise ValueError(f"file_number {value!r} must be 7 or 9 digits")
    return value


def year(row: dict, years: tuple[int, ...]) -> int:
    text = (row.get("year") or "").strip()
    if not re.fullmatch(r"[0-9]{4}", text) or int(text) not in years:
        raise ValueError(f"year {text!r} is not one of {', '.join(map(str, years))}")
    return int(text)
