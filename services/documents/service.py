"""The documents service: renders, stores and serves the fund's documents.

Entrypoints only: use cases in ``issuing``, templates in ``rendering``.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

import eventlet
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from carpimko import contacts
from carpimko import rpc as rpc_client
from carpimko.rpc import rpc
from carpimko.observability import Observability
from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.errors import InvalidRequest, PermanentFailure
from carpimko.handlers import batch_event_handler, reliable_event_handler

from . import deferred, issuing, letters, rendering, sources
from .models import Document, Outbox
from .storage import DocumentStore, FilesystemStore


SCHEDULE_CONSUMER = "documents.on_schedule_changed"
CERTIFICATE_CONSUMER = "documents.issue_contributions_certificate"


class DocumentsService:
    name = "documents"

    db = DatabaseProvider()
    observability = Observability()
    outbox = OutboxRelay(Outbox)
    config = Config()
    accounts = RpcProxy("accounts")
    contributions = RpcProxy("contributions")

    @property
    def store(self) -> DocumentStore:
        return FilesystemStore(Path(self.config["DATA_DIR"]) / "documents")

    @property
    def public_url(self) -> str:
        return self.config.get("PUBLIC_URL") or "http://127.0.0.1:8000"

    @batch_event_handler("contributions_recalculated")
    def on_contributions_recalculated(self, events):
        """For each event, the statement of the year and, when a regularisation
        changes the year's total, the regularisation notice: one inbox claim, one
        message per event (see ``_issue_for_events`` for the batch)."""
        self._issue_for_events(issuing.STATEMENT_CONSUMER, events, self._statement_documents)

    @batch_event_handler("schedule_changed")
    def on_schedule_changed(self, events):
        """For each event, the new payment schedule of the year; it supersedes the
        previous one, which stays readable and verifiable."""
        self._issue_for_events(SCHEDULE_CONSUMER, events, self._schedule_documents)

    @staticmethod
    def _statement_documents(event, member, issued_on):
        year = event.payload["year"]
        wanted = [(issuing.STATEMENT, issuing.statement_title(year), year,
                   lambda v: issuing.statement_data(event, member, issued_on, v))]
        if sources.regularises(event.raw["payload"]):
            wanted.append((sources.REGULARISATION, sources.regularisation_title(year), year,
                           lambda v: sources.regularisation_data(event, member, issued_on, v)))
        return wanted, sources.statement_notified(event), sources.also_announced_titles(event)

    @staticmethod
    def _schedule_documents(event, member, issued_on):
        year = event.payload["year"]
        return ([(sources.SCHEDULE, sources.schedule_title(year), year,
                  lambda v: sources.schedule_data(event, member, issued_on, v))],
                sources.schedule_notified(event), [])

    def _issue_for_events(self, consumer, events, documents_of):
        """Issue the documents of a batch of events for ``consumer``, to be
        rendered on first read (see ``deferred``: metadata, a data snapshot
        checked by the renderer's data checks, the hash of a derived
        verification code; no drawing, no file).

        Why this shape: per event, the worker, the transactions and the RPC
        cost more CPU than the documents themselves. So, per batch: one
        query drops the events already processed (and an event delivered
        twice in the batch), one RPC fetches the members' contact details,
        each document is prepared as one event alone would have it, and one
        transaction records them all with their inbox claims and outbox
        events (a claim lost to another copy of the service skips that
        event). ``documents_of(event, member, issued_on)`` gives the
        ``(kind, title, year, data_of)`` of the event's documents, the first
        one announced to the member, whether it is (``notify``), and the
        titles of documents of other events announced with it.

        Anything that fails (an unknown member, data the renderer refuses:
        PermanentFailure) fails the batch; the batch handler then handles
        each event alone, so only that event is retried or dead-lettered."""
        with self.db.transaction() as session:
            events = issuing.still_to_process(session, consumer, events)
        if not events:
            return
        members = contacts.of_members(self.accounts, [event.member_id for event in events],
                                      timeout=self.config.get("RPC_TIMEOUT"))
        issued_on = datetime.now(timezone.utc).date()
        key, public_url = self.verification_key, self.public_url
        batch = []
        for event in events:
            member = members[event.member_id]
            wanted, notify, announced_too = documents_of(event, member, issued_on)
            issued = []
            for kind, title, year, data_of in wanted:
                try:
                    issued.append(deferred.issue(kind, title, year, data_of, key, public_url))
                except ValueError as exc:  # the event's data can never make this document
                    raise PermanentFailure(f"cannot render the {kind}: {exc}") from exc
            batch.append((event, issued, issuing.member_initials(member), notify, announced_too))
        with self.db.transaction() as session:
            recorded = issuing.record_batch(session, consumer, batch, issued_on)
        if recorded:
            self.outbox.nudge()

    @property
    def verification_key(self) -> bytes:
        """The secret the verification codes of documents rendered on first
        read are derived from (``CARPIMKO_VERIFICATION_KEY``): required; it
        must not change while documents issued under it are unrendered."""
        key = self.config.get("VERIFICATION_KEY")
        if not key:
            raise RuntimeError("CARPIMKO_VERIFICATION_KEY is not set (the documents service "
                               "derives verification codes from it)")
        return key.encode("utf-8")

    def _content(self, view: dict, pending) -> bytes:
        """The document's content: the stored copy, or (``pending``: never read
        yet) rendered now, stored, and its hash and size recorded; ``view``
        gets them."""
        if pending is None:
            return self.store.get(view["sha256"])
        pdf = deferred.render(pending, self.verification_key)
        sha256 = self.store.put(pdf)
        with self.db.transaction() as session:
            recorded = deferred.record_rendered(session, pending.id, sha256, len(pdf))
        if recorded != sha256:  # cannot happen while rendering is deterministic
            pdf = self.store.get(recorded)
        view.update(sha256=recorded, size=len(pdf))
        return pdf

    @rpc
    def issue_contributions_certificate(self, file_number, year, request_id):
        """The certificate of contributions paid in ``year`` (income tax return),
        asked for by the member: figures from the contributions service, issued,
        stored and verifiable like every document; it supersedes the previous one
        of the same year. The same ``request_id`` again returns the same document.
        No payment received in the year: InvalidRequest (nothing to certify)."""
        request_id = issuing.request_key(request_id)
        today = datetime.now(timezone.utc).date()
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= today.year:
            raise InvalidRequest("invalid year", {"year": [f"must be a year from 2000 to "
                                                           f"{today.year}"]})
        with self.db.transaction() as session:
            existing = issuing.issued_for_request(session, file_number, request_id)
        if existing:
            return existing
        payments = rpc_client.call(self.contributions, "contributions", "payments_paid_in",
                                   file_number, year, timeout=self.config.get("RPC_TIMEOUT"))
        if not payments:
            raise InvalidRequest("no payment received in the year",
                                 {"year": ["no_payment_in_year"]})
        member = self._member(file_number)
        issued = self._render_and_store(
            sources.CERTIFICATE, sources.certificate_title(year), year,
            lambda v: sources.certificate_data(file_number, year, payments, member, today, v))
        with self.db.transaction() as session:
            view = issuing.record_request(session, CERTIFICATE_CONSUMER, request_id, file_number,
                                          issued, today, issuing.member_initials(member))
        if view is None:  # the same request, recorded meanwhile by another worker
            with self.db.transaction() as session:
                return issuing.issued_for_request(session, file_number, request_id)
        self.outbox.nudge()
        return view

    def _member(self, file_number):
        return rpc_client.call(self.accounts, "accounts", "contact_details", file_number,
                               timeout=self.config.get("RPC_TIMEOUT"))

    def _render_and_store(self, kind, title, year, data_of) -> issuing.Issued:
        """Render ``kind`` with a fresh verification code and store its content
        (content-addressed: a retry rewrites nothing)."""
        code, pdf = self._render(kind, data_of)
        return issuing.Issued(kind, title, year, self.store.put(pdf), len(pdf), code)

    def _render(self, kind, data_of) -> tuple[str, bytes]:
        """``kind`` rendered with a fresh verification code: (code, PDF)."""
        code, verification = issuing.new_verification(self.public_url)
        try:
            pdf = rendering.RENDERERS[kind](data_of(verification))
        except ValueError as exc:  # the event's data can never make this document
            raise PermanentFailure(f"cannot render the {kind}: {exc}") from exc
        return code, pdf

    @reliable_event_handler("career_statement_requested")
    def on_career_statement_requested(self, event):
        """A member asked for their career statement: render, store, list it (issue #6)."""
        with self.db.transaction() as session:
            if issuing.already_processed(session, issuing.CAREER_CONSUMER, event.event_id):
                return
        member = rpc_client.call(self.accounts, "accounts", "contact_details", event.member_id,
                                 timeout=self.config.get("RPC_TIMEOUT"))
        issued_on = datetime.now(timezone.utc).date()
        code, verification = issuing.new_verification(self.public_url)
        try:
            pdf = rendering.render_career_statement(
                issuing.career_statement_data(event, member, issued_on, verification))
        except ValueError as exc:
            raise PermanentFailure(f"cannot render the career statement: {exc}") from exc
        sha256 = self.store.put(pdf)
        with self.db.transaction() as session:
            document_id = issuing.record_career_statement(session, event, sha256, len(pdf), issued_on,
                                                          code, issuing.member_initials(member))
        if document_id:
            self.outbox.nudge()

    @rpc
    def list_documents(self, file_number):
        with self.db.transaction() as session:
            return issuing.list_documents(session, file_number)

    @rpc
    def documents_for_correlation(self, file_number, correlation_id):
        with self.db.transaction() as session:
            return issuing.documents_for_correlation(session, file_number, correlation_id)

    @rpc
    def get_content(self, file_number, document_id):
        """The document's metadata and its content, base64-encoded."""
        with self.db.transaction() as session:
            doc = issuing.get_document(session, file_number, document_id)
            view, pending = issuing.document_view(doc), deferred.Pending.of(doc)
        view["content_base64"] = base64.b64encode(self._content(view, pending)).decode("ascii")
        return view

    @rpc
    def render_pending(self, limit=100):
        """Render and store up to ``limit`` issued documents never read yet
        (oldest first); how many. Run until 0 before deploying a change of
        ``rendering.LAYOUT_VERSION``: a document is only ever drawn by the
        layout version it was issued under."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidRequest("invalid limit", {"limit": ["an integer from 1 to 10000"]})
        with self.db.transaction() as session:
            ids = deferred.pending_ids(session, limit)
        for document_id in ids:
            with self.db.transaction() as session:
                doc = session.get(Document, document_id)
                view, pending = issuing.document_view(doc), deferred.Pending.of(doc)
            if pending is not None:
                self._content(view, pending)
            eventlet.sleep(0)
        return len(ids)

    @rpc
    def verify(self, code):
        """Public verification of a document by the code printed on it: issuer-side
        facts only (kind, title, issue date, member's initials, SHA-256); the same
        shape and work for an unknown code (``found`` False). A genuine code of a
        document never read yet draws and stores it first (its SHA-256 is that of
        the original); the gateway's minimum answer time covers the drawing."""
        with self.db.transaction() as session:
            result, doc = issuing.verify_document(session, code)
            pending = deferred.Pending.of(doc) if doc is not None else None
        if pending is not None:
            # never read yet: its SHA-256 is that of its first rendering (which
            # only a genuine code, hence at most once per document, triggers)
            rendered: dict = {}
            self._content(rendered, pending)
            result["sha256"] = rendered["sha256"]
        return result

    @rpc
    def issue_letter(self, kind, data, issue_key):
        """A postal letter of another service (``access_letter``,
        ``account_notice``, ``notification_letter``), issued with a
        verification code and a QR code, as PDF (base64). ``issue_key`` (the
        caller's notification id) makes a retry give back the same letter;
        see ``letters`` for the letter carrying a one-time code."""
        secret = letters.check(kind, issue_key)
        try:
            # one transaction from the lookup to the row: the letter is drawn
            # and its content stored (fsync) before the row pointing at it
            with self.db.transaction() as session:
                kept = None if secret else letters.kept_sha256(session, issue_key)
                if kept:
                    return base64.b64encode(self.store.get(kept)).decode("ascii")
                if not isinstance(data, dict):
                    raise InvalidRequest("letter data must be an object",
                                         {"data": ["must be an object"]})
                code, verification = issuing.new_verification(self.public_url)
                try:
                    pdf = rendering.RENDERERS[kind]({**data, "verification": verification})
                except ValueError as exc:
                    raise InvalidRequest(str(exc), {"data": [str(exc)]}) from None
                sha256 = None if secret else self.store.put(pdf)
                letters.record(session, kind, data, issue_key, sha256, len(pdf), code)
        except IntegrityError:  # the same letter, issued meanwhile by another worker
            if secret:
                raise
            with self.db.transaction() as session:
                kept = letters.kept_sha256(session, issue_key)
            if not kept:
                raise
            return base64.b64encode(self.store.get(kept)).decode("ascii")
        return base64.b64encode(pdf).decode("ascii")

    @rpc
    def render_document(self, kind, data):
        """Any kind of document rendered from its data (shapes in
        ``rendering.kinds``), as PDF base64, without storing it: for postal
        letters sent by other services (e.g. ``access_letter``).
        Unknown kinds and bad data raise InvalidRequest."""
        renderer = rendering.RENDERERS.get(kind)
        if renderer is None:
            raise InvalidRequest("unknown document kind", {"kind": [f"unknown kind {kind!r}"]})
        try:
            pdf = renderer(data)
        except ValueError as exc:
            raise InvalidRequest(str(exc), {"data": [str(exc)]}) from None
        return base64.b64encode(pdf).decode("ascii")

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        from carpimko import outbox as outbox_rows
        return {"service": self.name, "status": "up",
                "outbox_pending": outbox_rows.pending_count(self.db, Outbox)}
