"""The password policy (no composition rules, NIST SP 800-63B style).

A password is accepted when it has 12 to 128 characters, is not among the
common passwords shipped with the project (``common_passwords.txt.gz``: the
30,000 most common passwords of zxcvbn's list plus a French supplement),
is not a common password with a little padding ("password2026!"), is not a
repetition or a keyboard/number sequence, and is not built on the member's
own details (file number, first and last names, birth date) or the fund's
name. ``check`` answers a list of problem codes (``too_short``, ``too_long``,
``common``, ``sequence``, ``personal``, ``mismatch``); their French wording is
in the gateway's catalogue (``gateway/messages/fr.toml``, ``password_<code>``).
"""
from __future__ import annotations

import gzip
import re
import unicodedata
from datetime import date
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_LIST = Path(__file__).with_name("common_passwords.txt.gz")


_SEQUENCES = ("0123456789012345678901234567890", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
              "azertyuiopqsdfghjklmwxcvbn", "qwertyuiopasdfghjklzxcvbnm", "1234567890",
              "&é\"'(-è_çà")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip() and not line.startswith("#"))


def _fold(text: str) -> str:
    """Lower case without accents: "Hélène" and "helene" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _is_common(folded: str) -> bool:
    common = common_passwords()
    if folded in common:
        return True
    # a common password with a short padding of digits/symbols around it
    core = re.sub(r"^[^a-z]+|[^a-z]+$", "", folded)
    if len(core) >= 4 and len(folded) - len(core) <= 5 and core in common:
        return True
    # the same common password typed twice, or with a separator
    half = len(folded) // 2
    return folded[:half] == folded[half:] and folded[:half] in common


def _is_sequence(folded: str) -> bool:
    if len(set(folded)) <= 2:
        return True
    for size in range(1, len(folded) // 2 + 1):  # "abcabcabcabc"
        if len(folded) % size == 0 and folded[:size] * (len(folded) // size) == folded:
            return True
    for seq in _SEQUENCES:
        if folded in seq or folded in seq[::-1]:
            return True
    return False


def context_words(file_number: str | None = None, first_name: str | None = None,
                  last_name: str | None = None, birth_date: date | None = None) -> list[str]:
    """The member's own details a password must not be built on (folded)."""
    words = ["carpimko"]
    if file_number:
        words.append(file_number)
    for name in (first_name, last_name):
        for part in re.split(r"[\s'\-]+", _fold(name or "")):
            if len(part) >= 3:
                words.append(part)
    if birth_date:
        d, m, y = f"{birth_date.day:02d}", f"{birth_date.month:02d}", f"{birth_date.year:04d}"
        words += [d + m + y, d + m + y[2:], y + m + d, f"{d}/{m}/{y}", f"{d}-{m}-{y}",
                  f"{y}-{m}-{d}", f"{d}.{m}.{y}"]
    return words


def check(password: str, context: list[str] | None = None, confirmation: str | None = None
          ) -> list[str]:
    """Problem codes; an empty list means accepted."""
    if not isinstance(password, str):
        return ["too_short"]
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append("too_short")
    elif len(password) > MAX_LENGTH:
        problems.append("too_long")
    folded = _fold(password)
    if len(password) <= MAX_LENGTH:
        if _is_common(folded):
            problems.append("common")
        elif _is_sequence(folded):
            problems.append("sequence")
        if any(word and word in folded for word in context or ["carpimko"]):
            problems.append("personal")
    if confirmation is not None and confirmation != password:
        problems.append("mismatch")
    return problems


