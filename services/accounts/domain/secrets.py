"""One-time secrets of the first login / forgotten password feature.

- an email link carries a token of 256 random bits (``token_urlsafe(32)``),
- a postal letter carries a code of 18 characters from a 31-symbol alphabet
  without look-alikes (no 0/O, 1/I/L): 18 × log2(31) ≈ 89 bits, printed in
  three groups of six.

Only their SHA-256 is stored: with that much randomness a fast hash is
enough (nothing to brute-force offline), and it lets a link be found by its
hash.
"""
from __future__ import annotations

import hashlib
import math
import secrets

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 18
CODE_BITS = CODE_LENGTH * math.log2(len(CODE_ALPHABET))
TOKEN_BYTES = 32


def new_link_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_letter_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    return "-".join(code[i:i + 6] for i in range(0, len(code), 6))


def normalise_code(typed: str) -> str | None:
    """The code as typed (any case, spaces or dashes) or None when it cannot be one."""
    if not isinstance(typed, str) or len(typed) > 64:
        return None
    code = "".join(c for c in typed.upper() if c not in " -\t.")
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
