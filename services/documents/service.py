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
from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.handlers import reliable_event_handler

from . import issuing, rendering
from .models import Outbox
from .storage import ContentStore


class DocumentsService:
    name = "documents"

    db = DatabaseProvider()
    outbox = OutboxRelay(Outbox)
    config = Config()
    accounts = RpcProxy("accounts")

    @property
    def store(self) -> ContentStore:
        return ContentStore(Path(self.config["DATA_DIR"]) / "documents")

    @reliable_event_handler("contributions_recalculated")
    def on_contributions_recalculated(self, event):
        with self.db.transaction() as session:
            if issuing.already_processed(session, issuing.STATEMENT_CONSUMER, event.event_id):
                return
        member = rpc_client.call(self.accounts, "accounts", "contact_details", event.member_id,
                                 timeout=self.config.get("RPC_TIMEOUT"))
        issued_on = datetime.now(timezone.utc).date()
        pdf = rendering.render_contribution_statement(
            issuing.statement_data(event, member, issued_on))
        sha256 = self.store.put(pdf)
        with self.db.transaction() as session:
            document_id = issuing.record_statement(session, event, sha256, len(pdf), issued_on)
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
    def render_letter(self, data):
        """A postal letter as PDF (base64), for the notifications service."""
        return base64.b64encode(rendering.render_letter(data)).decode("ascii")

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "status": "up"}
