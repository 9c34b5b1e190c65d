"""The notifications service: email, or a postal letter when no email is on file.

Entrypoints only: the use case is in ``delivering``.
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

from . import channels, delivering, letters, mailer
from .models import Outbox


class NotificationsService:
    name = "notifications"

    db = DatabaseProvider()
    outbox = OutboxRelay(Outbox)
    config = Config()
    accounts = RpcProxy("accounts")
    documents = RpcProxy("documents")

    def _call(self, proxy, service, method, *args):
        return rpc_client.call(proxy, service, method, *args,
                               timeout=self.config.get("RPC_TIMEOUT"))

    @reliable_event_handler("document_generated")
    def on_document_generated(self, event):
        with self.db.transaction() as session:
            if delivering.already_processed(session, event.event_id):
                return
        contact = self._call(self.accounts, "accounts", "contact_details", event.member_id)
        channel, notification_id = delivering.plan(contact, event)
        portal_url = self.config.get("PUBLIC_URL", "http://127.0.0.1:8000")
        letter_pdf = None
        if channel == channels.POST:  # render before the transaction: it is slow
            letter_pdf = base64.b64decode(self._call(
                self.documents, "documents", "render_letter", {
                    "file_number": event.member_id,
                    "member": {"full_name": contact["full_name"],
                               "address_lines": contact["address_lines"]},
                    "issued_on": datetime.now(timezone.utc).date().isoformat(),
                    "subject": "Un nouveau document est disponible",
                    "document_label": event.payload["title"],
                    "portal_url": portal_url,
                }))
        with self.db.transaction() as session:
            if not delivering.claim(session, event):
                return
            if channel == channels.EMAIL:
                message = mailer.compose_document_email(
                    to=contact["email"], sender=self.config["MAIL_FROM"],
                    notification_id=notification_id, member=contact,
                    document_title=event.payload["title"], portal_url=portal_url)
                mailer.send(message, self.config["SMTP_HOST"], int(self.config["SMTP_PORT"]))
                reference = message["Message-ID"]
            else:
                path = letters.write_letter(Path(self.config["DATA_DIR"]) / "letters",
                                            datetime.now(timezone.utc).date(),
                                            notification_id, letter_pdf)
                reference = str(path)
            delivering.record(session, event, channel, notification_id, reference)
        self.outbox.nudge()

    @rpc
    def for_correlation(self, file_number, correlation_id):
        with self.db.transaction() as session:
            return delivering.for_correlation(session, file_number, correlation_id)

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "status": "up"}
