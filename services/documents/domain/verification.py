"""Verification codes printed on every issued document.

A code is 16 characters drawn at random (``secrets``) from Crockford's
base-32 alphabet (digits and letters without I, L, O, U): 80 bits, shown in
groups of four ("K7QH-3MZP-XW9C-T4RB"). It is unguessable and is printed on the PDF with
a QR code of ``<PUBLIC_URL>/verify/<code>``; the database only keeps its
SHA-256 (unique index), so a copy of the database does not reveal the codes.

A document rendered on first read (see ``services/documents/deferred.py``)
cannot have a random code: it is drawn later, perhaps twice (two first
readers at once, another copy of the service), and must print the same code
each time, yet the code itself is still never stored. Its code is derived:
the first 80 bits of HMAC-SHA256(key, document id), same alphabet and format,
so it can be computed again at render time from the service's secret key,
and its hash is stored at issue like any other. Without the key the codes
are as unguessable as random ones; the key must never change while documents
issued under it are still unrendered (the render checks the hash and refuses).

Reading a code back is forgiving: case, spaces, dashes and the look-alikes
O->0, I/L->1 are folded; anything else makes the code malformed (answered exactly
like an unknown one).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 16
GROUP = 4
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_HASH_PREFIX = b"carpimko-document-verification:"
_DERIVED_PREFIX = b"carpimko-document-code:"


def new_code() -> str:
    """A fresh random code, formatted for print."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(raw)


def derived_code(key: bytes, document_id: str) -> str:
    """The code of a document rendered on first read: the first 80 bits of
    HMAC-SHA256(``key``, its id), in the code alphabet, formatted for print."""
    if not key:
        raise ValueError("the verification key is empty")
    mac = hmac.new(key, _DERIVED_PREFIX + str(document_id).encode("ascii"), hashlib.sha256)
    number = int.from_bytes(mac.digest()[:10], "big")  # 80 bits: 16 symbols of 5 bits
    raw = "".join(ALPHABET[(number >> shift) & 31] for shift in range(75, -1, -5))
    return format_code(raw)


def format_code(canonical: str) -> str:
    return "-".join(canonical[i:i + GROUP] for i in range(0, len(canonical), GROUP))


def canonical(code: str) -> str | None:
    """The code as stored (16 symbols, no dash), or None when it cannot be one."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    text = "".join(c for c in code.upper() if c not in " -\u00a0\t").translate(_FOLD)
    if len(text) != CODE_LENGTH or any(c not in ALPHABET for c in text):
        return None
    return text


def code_hash(code: str | None) -> str:
    """SHA-256 (hex) of a canonical code. A malformed code (None) gets the hash
    of a value no real code has, so that looking it up costs the same."""
    value = code if code is not None else "malformed"
    return hashlib.sha256(_HASH_PREFIX + value.encode("ascii", "replace")).hexdigest()


def verify_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/verify/{code}"


def initials(first_name: str | None, last_name: str | None) -> str:
    """"Claire", "Martin" -> "C. M."; "Jean-Pierre", "Le Gall" -> "J.-P. L. G."."""
    def of(name: str | None) -> str:
        if not name:
            return ""
        words = []
        for word in name.split():
            parts = [p for p in word.split("-") if p]
            words.append("-".join(p[0].upper() + "." for p in parts))
        return " ".join(w for w in words if w)
    return " ".join(part for part in (of(first_name), of(last_name)) if part)

