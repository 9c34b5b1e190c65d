"""The documents service: renders, stores and serves the fund's documents.

Entrypoints only: use cases in ``issuing``, templates in ``rendering``.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy, rpc
from sqlalchemy import text

from carpimko import rpc as rpc_client
from carpimko.observability import Observability
from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.errors import InvalidRequest, PermanentFailure
from carpimko.handlers import reliable_event_handler

from . import issuing, rendering
from .models import Outbox
from .storage import DocumentStore, FilesystemStore


class DocumentsService:
    name = "documents"

    db = DatabaseProvider()
    observability = Observability()
    outbox = OutboxRelay(Outbox)
    config = Config()
    accounts = RpcProxy("accounts")

    @property
    def store(self) -> DocumentStore:
        return FilesystemStore(Path(self.config["DATA_DIR"]) / "documents")

    @property
    def public_url(self) -> str:
        return self.config.get("PUBLIC_URL") or "http://127.0.0.1:8000"

    @reliable_event_handler("contributions_recalculated")
    def on_contributions_recalculated(self, event):
        with self.db.transaction() as session:
            if issuing.already_processed(session, issuing.STATEMENT_CONSUMER, event.event_id):
                return
        member = rpc_client.call(self.accounts, "accounts", "contact_details", event.member_id,
                                 timeout=self.config.get("RPC_TIMEOUT"))
        issued_on = datetime.now(timezone.utc).date()
        code, verification = issuing.new_verification(self.public_url)
        try:
            pdf = rendering.render_contribution_statement(
                issuing.statement_data(event, member, issued_on, verification))
        except ValueError as exc:  # the event's data can never make a statement
            raise PermanentFailure(f"cannot render the statement: {exc}") from exc
        sha256 = self.store.put(pdf)
        with self.db.transaction() as session:
            document_id = issuing.record_statement(session, event, sha256, len(pdf), issued_on,
                                                   code, issuing.member_initials(member))
        if document_id:
            self.outbox.nudge()

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
            view = issuing.document_view(doc)
        view["content_base64"] = base64.b64encode(self.store.get(doc.sha256)).decode("ascii")
        return view

    @rpc
    def verify(self, code):
        """Public verification of a document by the code printed on it: issuer-side
        facts only (kind, title, issue date, member's initials, SHA-256); the same
        shape and work for an unknown code (``found`` False)."""
        with self.db.transaction() as session:
            return issuing.verify(session, code)

    @rpc
    def render_letter(self, data):
        """A postal letter as PDF (base64), for the notifications service."""
        return base64.b64encode(rendering.render_letter(data)).decode("ascii")

    @rpc
    def render_access_letter(self, data):
        """The first-login / password letter with its one-time code (base64 PDF)."""
        return self.render_document("access_letter", data)

    @rpc
    def render_account_notice(self, data):
        """A postal notice about the member's account (base64 PDF)."""
        return self.render_document("account_notice", data)

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
