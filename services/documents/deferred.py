"""Documents rendered on first read, not at issue (issue #12).

Why: a declaration issues several PDFs and drawing them was the largest
single CPU cost of the chain, while most issued documents are never opened.
So the documents of the chain (statement, regularisation notice, payment
schedule) are issued as metadata plus an immutable snapshot of the
renderer's data, and drawn the first time someone reads them (member
download, advisor, verification); the PDF is then stored content-addressed
and that stored copy is served ever after.

What keeps this as trustworthy as rendering at issue:
- the snapshot is the renderer's data as it was at issue (written once, in
  the document's row, with the public address the QR code points to) and
  the ``rendering.LAYOUT_VERSION`` it is to be drawn with: a document is
  never drawn by another layout version (refused, see ``render``);
- the renderer's data checks run at issue (``rendering.check``, no drawing),
  so data that no renderer accepts still fails the event there;
- the verification code is derived from the service's key and the
  document's id (``verification.derived_code``): the same at every render,
  never stored (only its hash, at issue, as before);
- ReportLab's invariant mode (``engine.layout_to_pdf``): the same data gives
  the same bytes, so two first readers at once, a retry or two copies of
  the service store the same content, and the first to record its hash and
  size wins (``record_rendered``), the others having written the same file.

Plain Python: no nameko here (the service's entrypoints call these).
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carpimko.errors import DocumentUnavailable

from . import rendering
from .domain import verification
from .issuing import Issued
from .models import Document

log = logging.getLogger(__name__)


def issue(kind: str, title: str, year: int | None, data_of, key: bytes,
          public_url: str) -> Issued:
    """A document of ``kind`` to record now and render on first read.

    ``data_of(verification_block)`` gives the renderer's data. Its id is
    chosen here so that its verification code (derived from it) can be
    hashed at issue. ValueError when the data cannot make a ``kind``."""
    document_id = str(uuid.uuid4())
    code = verification.derived_code(key, document_id)
    data = data_of({"code": code, "url": verification.verify_url(public_url, code)})
    rendering.check(kind, data)
    snapshot = {"public_url": public_url,
                "data": {k: v for k, v in data.items() if k != "verification"}}
    try:  # the row's JSON must give back exactly these values
        snapshot = json.loads(json.dumps(snapshot, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{kind}: data cannot be kept as JSON ({exc})") from None
    return Issued(kind, title, year, None, None, code, document_id=document_id,
                  snapshot=snapshot, layout_version=rendering.LAYOUT_VERSION)


@dataclass(frozen=True)
class Pending:
    """What rendering an issued, not yet rendered document needs (read from its
    row inside a transaction, used outside it)."""

    id: str
    kind: str
    snapshot: dict
    layout_version: str
    verification_hash: str | None

    @classmethod
    def of(cls, doc: Document) -> "Pending | None":
        """None when ``doc`` has its content already (or keeps none)."""
        if doc.sha256 is not None or doc.snapshot is None:
            return None
        return cls(doc.id, doc.kind, doc.snapshot, doc.layout_version, doc.verification_hash)


def render(pending: Pending, key: bytes) -> bytes:
    """The PDF of ``pending``, exactly as its first render drew (or would draw)
    it. DocumentUnavailable (logged) when it cannot be drawn as issued."""
    def unavailable(reason: str):
        log.error("document %s (%s) cannot be rendered: %s", pending.id, pending.kind, reason)
        return DocumentUnavailable("document cannot be rendered", {})

    if pending.layout_version != rendering.LAYOUT_VERSION:
        raise unavailable(f"issued for layout {pending.layout_version}, this service draws "
                          f"{rendering.LAYOUT_VERSION} (render_pending before changing it)")
    code = verification.derived_code(key, pending.id)
    if pending.verification_hash != verification.code_hash(verification.canonical(code)):
        raise unavailable("its verification code is not the one issued (another key?)")
    data = {**pending.snapshot["data"],
            "verification": {"code": code,
                             "url": verification.verify_url(pending.snapshot["public_url"], code)}}
    try:
        return rendering.RENDERERS[pending.kind](data)
    except (KeyError, ValueError) as exc:
        raise unavailable(str(exc)) from None


def record_rendered(session: Session, document_id: str, sha256: str, size: int) -> str:
    """Record the content of a document rendered on first read; the first
    writer wins. Returns the SHA-256 on record (the same, since rendering is
    deterministic; a difference is logged: it would mean a broken invariant)."""
    session.execute(update(Document)
                    .where(Document.id == document_id, Document.sha256.is_(None))
                    .values(sha256=sha256, size=size))
    recorded = session.scalar(select(Document.sha256).where(Document.id == document_id))
    if recorded != sha256:
        log.error("document %s rendered twice with different bytes (%s, then %s)",
                  document_id, recorded, sha256)
    return recorded


def pending_ids(session: Session, limit: int) -> list[str]:
    """Ids of issued documents not rendered yet (oldest first)."""
    return list(session.scalars(
        select(Document.id).where(Document.sha256.is_(None), Document.snapshot.is_not(None))
        .order_by(Document.created_at).limit(limit)))
