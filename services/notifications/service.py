"""The notifications service: email, or a postal letter when email cannot reach.

Entrypoints only: the use cases are in ``delivering``, the channel rules in
``channels``, SMTP in ``mailer``, print batches in ``letters``.
"""
from __future__ import annotations

import base64
import logging
from datetime import datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer
from sqlalchemy import text

from carpimko import contacts as contact_details
from carpimko import rpc as rpc_client
from carpimko.rpc import rpc
from carpimko.observability import Observability
from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.errors import InvalidRequest
from carpimko.handlers import batch_event_handler, reliable_event_handler

from . import channels, delivering, letters, mailer, message_notices, password_notices
from .models import Outbox

log = logging.getLogger(__name__)
PARIS = ZoneInfo("Europe/Paris")


def _log_limit(limit) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise InvalidRequest("limit must be a whole number from 1 to 100",
                             {"limit": ["a whole number from 1 to 100"]})
    return limit


class EmailRateLimit(DependencyProvider):
    """One limiter per copy of the service (``EMAIL_RATE_PER_SECOND``, default 20)."""

    def setup(self):
        self.limiter = mailer.RateLimiter(float(self.container.config.get("EMAIL_RATE_PER_SECOND", 20)))

    def get_dependency(self, worker_ctx):
        return self.limiter


class SmtpConnections(DependencyProvider):
    """The copy's SMTP connections, kept open between batches (``mailer.SmtpPool``)."""

    def setup(self):
        self.pool = mailer.SmtpPool(mailer.SmtpSettings.from_config(self.container.config))

    def stop(self):
        self.pool.close()

    kill = stop

    def get_dependency(self, worker_ctx):
        return self.pool


class NotificationsService:
    name = "notifications"

    db = DatabaseProvider()
    observability = Observability()
    outbox = OutboxRelay(Outbox)
    config = Config()
    email_rate = EmailRateLimit()
    smtp = SmtpConnections()
    accounts = RpcProxy("accounts")
    documents = RpcProxy("documents")

    def _call(self, proxy, service, method, *args):
        return rpc_client.call(proxy, service, method, *args,
                               timeout=self.config.get("RPC_TIMEOUT"))

    @property
    def letters_root(self) -> Path:
        return Path(self.config["DATA_DIR"]) / "letters"

    @batch_event_handler("document_generated")
    def on_document_generated(self, events):
        """Tell members of their new documents, a batch of events at a time.

        One transaction claims the events told with another document of
        their chain and drops those already processed (and a batch's
        duplicates), one RPC fetches every contact, and the emails share
        one SMTP connection, kept open for the next batch. Each delivery
        keeps its own transaction (claim, send, record, commit): if a later
        one fails, the batch is handled again event by event and an email
        already sent is never sent again."""
        with self.db.transaction() as session:
            # silent ones are routed elsewhere (broker.routing_key); one published before that, or
            # replayed under its type, is claimed outright (ON CONFLICT skips those done)
            delivering.claim_all(session, [e for e in events if not delivering.to_announce(e)])
            announced = delivering.not_processed(
                session, [e for e in events if delivering.to_announce(e)])
        if not announced:
            return
        contacts = contact_details.of_members(self.accounts, sorted({e.member_id for e in announced}),
                                               timeout=self.config.get("RPC_TIMEOUT"))
        letters_issued = self._issue_letters(
            [e for e in announced if channels.choose_channel(contacts[e.member_id]) == channels.POST
             and channels.usable_postal_address(contacts[e.member_id])], contacts)
        bounced = False
        try:
            with self.smtp.session() as smtp:
                for event in announced:
                    bounced |= self._announce(event, contacts[event.member_id], smtp,
                                              letters_issued.get(event.event_id))
        finally:
            if bounced:
                self.outbox.nudge()

    def _issue_letters(self, events, contacts) -> dict[str, bytes]:
        """The letters of a batch's events told by post, issued by documents
        several at a time (``rpc.call_each``), by event id.

        Why before the loop: drawing a letter takes documents some
        milliseconds of CPU, and while the chain is busy its answer waited
        behind the rest of documents' work; asked one after the other, the
        letters held the batch's emails back by about a tenth of a second
        each. Issuing is idempotent by notification id, and the claim, the
        file and the record stay in each delivery's own transaction, as
        before: a letter issued for an event another worker handles
        meanwhile is the same letter."""
        if not events:
            return {}
        pdfs = rpc_client.call_each(
            self.documents, "documents", "issue_letter",
            [self._letter_request(event, contacts[event.member_id]) for event in events],
            timeout=self.config.get("RPC_TIMEOUT"))
        return {event.event_id: base64.b64decode(pdf) for event, pdf in zip(events, pdfs)}

    def _letter_request(self, event, contact) -> tuple:
        """The ``issue_letter`` arguments of the letter telling ``event`` by post."""
        return ("notification_letter", {
            "file_number": event.member_id,
            "member": {"full_name": contact["full_name"], "address_lines": contact["address_lines"]},
            "issued_on": datetime.now(timezone.utc).date().isoformat(),
            "subject": "Un nouveau document est disponible",
            "document_label": delivering.announced_titles(event),
            "portal_url": self.config.get("PUBLIC_URL", "http://127.0.0.1:8000"),
        }, delivering.notification_id_for(event.event_id, channels.POST))

    def _announce(self, event, contact, smtp, letter: bytes | None = None) -> bool:
        """Email, or a letter; True when the email bounced (``email_bounced``
        staged for accounts).

        Why the relay is nudged for bounces only: the other events of a
        delivery (``notification_sent``, ``notification_failed``) have no
        consumer waiting on them, and a relay transaction and a confirmed
        publish per batch cost about as much as an email itself at a steady
        rate (batches of one). The relay's poll (``OUTBOX_POLL_INTERVAL``,
        1 s) publishes them together; they stay committed with the delivery."""
        channel = channels.choose_channel(contact)
        note = "" if channel == channels.EMAIL else channels.why_post(contact)
        bounce = None
        if channel == channels.EMAIL:
            try:
                self._send_email(event, contact, smtp)
                return False
            except mailer.PermanentDeliveryError as exc:  # hard bounce: switch to post
                log.warning("hard bounce for member %s: %s", event.member_id, exc)
                bounce = exc
                note = ("Votre messagerie a refusé notre courriel "
                        f"({exc.code}) : avis envoyé par courrier.")
        self._send_letter(event, contact, note, bounce, letter if bounce is None else None)
        return bounce is not None

    def _send_email(self, event, contact, smtp):
        notification_id = delivering.notification_id_for(event.event_id, channels.EMAIL)
        with self.db.transaction() as session:
            if not delivering.claim(session, event):
                return
            message = mailer.compose_document_email(
                to=contact["email"], sender=self.config["MAIL_FROM"],
                notification_id=notification_id, member=contact,
                document_title=event.payload["title"],
                also_issued=event.payload.get("also_issued", []),
                portal_url=self.config.get("PUBLIC_URL", "http://127.0.0.1:8000"))
            self.email_rate.wait()
            smtp.send(message)
            delivering.record(session, event, channels.EMAIL, notification_id,
                              mailer.message_id_for(notification_id))

    def _send_letter(self, event, contact, note, bounce, pdf: bytes | None = None):
        notification_id = delivering.notification_id_for(event.event_id, channels.POST)
        if not channels.usable_postal_address(contact):
            with self.db.transaction() as session:
                if delivering.claim(session, event):
                    delivering.record_failure(
                        session, event, channels.POST, notification_id,
                        " ".join(filter(None, [note, "Adresse postale inutilisable : ni courriel ni courrier "
                                                     "possible."])))
                    if bounce is not None:  # accounts must still learn the email bounced
                        self._record_bounce(session, event, contact, bounce)
            return
        if pdf is None:  # not issued with the batch's letters (a bounce, a retry alone)
            pdf = base64.b64decode(self._call(self.documents, "documents", "issue_letter",
                                              *self._letter_request(event, contact)))
        with self.db.transaction() as session:
            if not delivering.claim(session, event):
                return
            path = letters.write_letter(self.letters_root, datetime.now(timezone.utc).date(),
                                        notification_id, pdf)
            delivering.queue_letter(session, notification_id, contact, path,
                                    letters.page_count(pdf))
            delivering.record(session, event, channels.POST, notification_id, str(path), note)
            if bounce is not None:
                self._record_bounce(session, event, contact, bounce)

    @staticmethod
    def _record_bounce(session, event, contact, bounce):
        delivering.record_bounce(session, event, contact["email"], bounce.code, bounce.reason,
                                 delivering.notification_id_for(event.event_id, channels.EMAIL))

    # -- account notices (accounts issue #4: password_notices) --
    @reliable_event_handler("password_reset_requested")
    def on_password_reset_requested(self, event):
        password_notices.on_password_reset_requested(self, event)

    @reliable_event_handler("password_changed")
    def on_password_changed(self, event):
        password_notices.on_password_changed(self, event)

    @reliable_event_handler("account_locked")
    def on_account_locked(self, event):
        password_notices.on_account_locked(self, event)

    @reliable_event_handler("email_verification_requested")
    def on_email_verification_requested(self, event):
        password_notices.on_email_verification_requested(self, event)

    @reliable_event_handler("contact_details_changed")
    def on_contact_details_changed(self, event):
        password_notices.on_contact_details_changed(self, event)

    # -- secure messaging (issue #9): a reply is waiting, never its content --
    @reliable_event_handler("message_posted")
    def on_message_posted(self, event):
        message_notices.on_message_posted(self, event)

    @timer(interval=60)
    def close_print_batch_at_cut_off(self):
        """Once a day, after ``LETTERS_CUT_OFF`` (Paris time, default 16:00),
        close the day's print batch. Several copies may try: one wins."""
        hour, minute = (int(x) for x in str(self.config.get("LETTERS_CUT_OFF", "16:00")).split(":"))
        now = datetime.now(PARIS)
        cut_off = datetime.combine(now.date(), time(hour, minute), PARIS)
        if now >= cut_off:
            delivering.close_batch(self.db, self.letters_root, cut_off.astimezone(timezone.utc))

    @rpc
    def close_letter_batch(self, cut_off_iso=None):
        cut_off = (datetime.fromisoformat(cut_off_iso) if cut_off_iso
                   else datetime.now(timezone.utc))
        if cut_off.tzinfo is None:
            cut_off = cut_off.replace(tzinfo=timezone.utc)
        return delivering.close_batch(self.db, self.letters_root, cut_off)

    @rpc
    def letters_overview(self):
        with self.db.transaction() as session:
            return delivering.letters_overview(session)

    @rpc
    def batch_letters(self, batch_id):
        with self.db.transaction() as session:
            return delivering.batch_letters(session, batch_id)

    @rpc
    def for_correlation(self, file_number, correlation_id):
        with self.db.transaction() as session:
            return delivering.for_correlation(session, file_number, correlation_id)

    @rpc
    def delivery_log(self, file_number, limit=100):
        """The member's deliveries, newest first (``limit``: at most 100; the
        dashboard asks for the latest few)."""
        with self.db.transaction() as session:
            return delivering.delivery_log(session, file_number, _log_limit(limit))

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        from carpimko import outbox as outbox_rows
        return {"service": self.name, "status": "up",
                "outbox_pending": outbox_rows.pending_count(self.db, Outbox)}
