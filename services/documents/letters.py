"""Postal letters that other services send (through the ``issue_letter`` RPC):
each carries a verification code and a QR code like every document, so that
the member, or anyone they show it to, can check that it comes from the fund.

A letter carrying a secret (the first-login / password letter and its
one-time code) is verifiable too, but nothing of the secret is kept or shown:
- its verification code is random, unrelated to the one-time code;
- neither its content nor its SHA-256 is stored: the hash of a page holding
  the code would let anyone holding the hash confirm a guessed code offline,
  and a stored PDF would be a second copy of the secret at rest (accounts
  keeps only a hash of it; the printed letter is the only copy);
- so the public page can only say "a genuine access letter, issued on that
  day, to C. M."; it cannot compare a copy, and says why.
This is still worth having: a forged "first-login letter" is exactly what a
fraudster would send to get a member to call a number or type a code on a
fake site; the verification page tells them it is not ours.

The same letter asked for again (a retried notification: same issue key)
gives back the same PDF when its content is kept; a secret-bearing letter is
rendered again (the code it carries may be new) with a new verification code,
and the member's previous access letters show as superseded, as accounts
supersedes the previous one-time code.

Letters are not listed in "Mes documents" (the delivery log shows them).
"""
from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from carpimko.errors import InvalidRequest

from . import issuing
from .models import Document

# kind -> whether the letter carries a secret (its content and hash are never kept)
LETTERS = {"access_letter": True, "account_notice": False, "notification_letter": False}
MAX_KEY = 50


def check(kind, issue_key) -> bool:
    """Whether the letter carries a secret; InvalidRequest for an unknown kind or
    a missing key."""
    if kind not in LETTERS:
        raise InvalidRequest("unknown letter kind", {"kind": [f"unknown letter kind {kind!r}"]})
    if not isinstance(issue_key, str) or not issue_key.strip() or len(issue_key) > MAX_KEY:
        raise InvalidRequest("invalid issue key",
                             {"issue_key": [f"a non-empty string of {MAX_KEY} characters at most"]})
    return LETTERS[kind]


def _source(issue_key: str) -> str:
    return f"letter:{issue_key}"


_KEPT = select(Document.sha256).where(Document.source_event_id == bindparam("source"))


def kept_sha256(session: Session, issue_key: str) -> str | None:
    """The SHA-256 of the kept letter issued under ``issue_key``, if any (None
    too for a secret-bearing letter: nothing of it is kept). One statement
    built once: it runs before every letter is drawn."""
    return session.connection().execute(_KEPT, {"source": _source(issue_key)}).scalar()


def title(kind: str, data: dict) -> str:
    if kind == "access_letter":
        return "Courrier d'accès à votre espace personnel"
    return str(data["subject"])[:200]


_documents = Document.__table__
_INSERT = insert(_documents)
# a re-rendered access letter supersedes the member's previous ones (as
# ``issuing.insert_document`` does for yearless kinds)
_SUPERSEDE = (update(_documents)
              .where(_documents.c.file_number == bindparam("member_file"),
                     _documents.c.kind == bindparam("letter_kind"),
                     _documents.c.year.is_(None), _documents.c.superseded_by.is_(None))
              .values(superseded_by=bindparam("new_id")))


def record(session: Session, kind: str, data: dict, issue_key: str, sha256: str | None,
           size: int, code: str) -> str:
    """The metadata of an issued letter (its content is stored by the caller
    when kept); its id. Secret-bearing letters supersede the member's previous
    ones. Core statements on the session's connection, built once: the ORM
    unit of work cost more than the statements themselves. A letter already
    issued under ``issue_key`` raises IntegrityError (unique source key)."""
    secret = LETTERS[kind]
    item = issuing.Issued(kind, title(kind, data), None, None if secret else sha256, size, code)
    # a secret-bearing letter may be rendered again for the same key (new code)
    source = f"letter:{uuid.uuid4()}" if secret else _source(issue_key)
    file_number = str(data["file_number"])
    row = issuing.document_row(item, file_number=file_number, correlation_id=issue_key,
                               source_key=source,
                               issued_on=date.fromisoformat(data["issued_on"]),
                               initials=issuing.member_initials(data["member"]))
    connection = session.connection()
    if secret:
        connection.execute(_SUPERSEDE, {"member_file": file_number, "letter_kind": kind,
                                        "new_id": row["id"]})
    connection.execute(_INSERT, row)
    return row["id"]
