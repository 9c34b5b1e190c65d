"""The messaging service: threads between members and the fund's advisors.

Entrypoints only: use cases in ``threads``, rules in ``domain/rules``, the
attachment checks in ``attachments``, contents on disk in ``storage``.

Member RPCs take the member's file number (the gateway's session decides it);
staff RPCs take the ``actor`` the gateway resolved from the staff session
(``{"login", "role"}``): the role's permission is checked here and every
access is recorded, allowed or not. Attachments travel base64-encoded
(``[{"filename", "content_base64"}]``); they are cleaned and stored before
the transaction that records the message (a failed transaction removes them).
"""
from __future__ import annotations

import base64
import binascii
from pathlib import Path

from nameko.dependency_providers import Config
from sqlalchemy import text

from carpimko.rpc import rpc
from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.errors import InvalidRequest, NotFound, Unauthorized
from carpimko.handlers import reliable_event_handler
from carpimko.observability import Observability

from . import attachments, threads
from .models import Outbox
from .storage import AttachmentStore


class MessagingService:
    name = "messaging"

    db = DatabaseProvider()
    observability = Observability()
    outbox = OutboxRelay(Outbox)
    config = Config()

    @property
    def store(self) -> AttachmentStore:
        return AttachmentStore(Path(self.config["DATA_DIR"]) / "messaging" / "attachments")

    # -- attachments -------------------------------------------------------------------
    def _decode(self, files) -> list[tuple[str, bytes]]:
        if files in (None, []):
            return []
        if not isinstance(files, list):
            raise InvalidRequest("attachments must be a list", {"attachments": ["invalid"]})
        decoded = []
        for item in files:
            try:
                decoded.append((str(item["filename"]),
                                base64.b64decode(item["content_base64"], validate=True)))
            except (KeyError, TypeError, binascii.Error, ValueError):
                raise InvalidRequest("invalid attachment", {"attachments": ["invalid"]}) from None
        return decoded

    def _clean_and_store(self, files) -> list[tuple[attachments.CleanFile, str]]:
        decoded = self._decode(files)
        if not decoded:
            return []
        address = self.config.get("CLAMD_ADDRESS") or ""
        scanner = attachments.ClamdScanner(address) if address else None
        try:
            cleaned = attachments.check_message(
                decoded, attachments.Limits.from_config(self.config), scanner)
        except attachments.AttachmentsRefused as exc:
            raise InvalidRequest("attachments refused",
                                 {"attachments": exc.problems}) from None
        return [(clean, self.store.put(clean.content)) for clean in cleaned]

    def _posting(self, files, record):
        """Clean and store the files, then record the message; on failure the
        stored files are removed (nothing half-kept)."""
        stored = self._clean_and_store(files)
        try:
            with self.db.transaction() as session:
                return record(session, stored)
        except BaseException:
            for _, name in stored:
                self.store.delete(name)
            raise

    def _replayed(self, message_id, check):
        """An already-posted message id: return its thread's view (idempotency)."""
        with self.db.transaction() as session:
            seen = threads.already_posted(session, message_id)
            if seen is None:
                return None
            return check(session, seen)

    # -- members -----------------------------------------------------------------------
    @rpc
    def member_threads(self, file_number):
        with self.db.transaction() as session:
            return threads.member_threads(session, file_number)

    @rpc
    def member_thread(self, file_number, thread_id):
        with self.db.transaction() as session:
            return threads.member_thread(session, file_number, thread_id)

    @rpc
    def unread_summary(self, file_number):
        with self.db.transaction() as session:
            return threads.unread(session, file_number)

    @rpc
    def start_thread(self, file_number, category, subject, body, message_id, files=None):
        def check(session, seen):
            if seen["file_number"] != file_number:
                raise InvalidRequest("message id already used", {"message_id": ["invalid"]})
            return threads.thread_view(session, session.get(threads.Thread, seen["thread_id"]))
        replay = self._replayed(message_id, check)
        if replay is not None:
            return replay
        # the text first: a message refused for its subject costs no work on its files
        errors = threads.rules.check_text(subject, body, need_subject=True)
        if category not in threads.rules.CATEGORIES:
            errors["category"] = ["message_category"]
        if errors:
            raise InvalidRequest("invalid message", errors)
        return self._posting(files, lambda session, stored: threads.start_thread(
            session, file_number, category, subject, body, message_id, stored))

    @rpc
    def member_reply(self, file_number, thread_id, body, message_id, files=None):
        def check(session, seen):
            if seen["file_number"] != file_number or seen["thread_id"] != thread_id:
                raise InvalidRequest("message id already used", {"message_id": ["invalid"]})
            return threads.thread_view(session, session.get(threads.Thread, seen["thread_id"]))
        replay = self._replayed(message_id, check)
        if replay is not None:
            return replay
        with self.db.transaction() as session:  # the thread must be theirs, before any file work
            threads._member_thread(session, file_number, thread_id)
        return self._posting(files, lambda session, stored: threads.member_reply(
            session, file_number, thread_id, body, message_id, stored))

    @rpc
    def member_attachment(self, file_number, thread_id, attachment_id):
        with self.db.transaction() as session:
            row = threads.member_attachment(session, file_number, thread_id, attachment_id)
            return self._content(row)

    def _content(self, row) -> dict:
        return {"id": row.id, "filename": row.filename, "media_type": row.media_type,
                "size": row.size, "sha256": row.sha256,
                "content_base64": base64.b64encode(
                    self.store.get(row.storage_name, row.sha256)).decode("ascii")}

    # -- staff -------------------------------------------------------------------------
    def _authorize(self, actor, action, thread_id=None) -> None:
        """Record the access in its own transaction (kept even when refused)."""
        with self.db.transaction() as session:
            file_number = None
            if thread_id is not None:
                thread = threads.staff_thread_row(session, thread_id)
                thread_id, file_number = thread.id, thread.file_number
            ok = threads.authorize(session, actor, action, thread_id, file_number)
        if not ok:
            raise Unauthorized(f"role may not {action}", {})

    @rpc
    def staff_inbox(self, actor, category=None, status=None, assigned_to=None):
        self._authorize(actor, "read")
        with self.db.transaction() as session:
            return {"threads": threads.inbox_view(session, category or None, status or None,
                                                  assigned_to),
                    "open_by_category": threads.counts_by_category(session)}

    @rpc
    def staff_thread(self, actor, thread_id):
        self._authorize(actor, "read", thread_id)
        with self.db.transaction() as session:
            return threads.thread_view(session, threads.staff_thread_row(session, thread_id),
                                       staff=True)

    @rpc
    def staff_attachment(self, actor, thread_id, attachment_id):
        self._authorize(actor, "read", thread_id)
        with self.db.transaction() as session:
            thread = threads.staff_thread_row(session, thread_id)
            return self._content(threads._attachment(session, thread, attachment_id, True))

    @rpc
    def staff_assign(self, actor, thread_id, login):
        self._authorize(actor, "assign", thread_id)
        with self.db.transaction() as session:
            return threads.assign(session, actor, threads.staff_thread_row(session, thread_id),
                                  login or None)

    @rpc
    def staff_reply(self, actor, thread_id, body, message_id, files=None, await_member=False):
        self._authorize(actor, "reply", thread_id)

        def check(session, seen):
            if seen["thread_id"] != thread_id:
                raise InvalidRequest("message id already used", {"message_id": ["invalid"]})
            return threads.thread_view(session, session.get(threads.Thread, thread_id), staff=True)
        replay = self._replayed(message_id, check)
        if replay is not None:
            return replay
        view = self._posting(files, lambda session, stored: threads.reply(
            session, actor, threads.staff_thread_row(session, thread_id), body, message_id,
            stored, bool(await_member)))
        self.outbox.nudge()
        return view

    @rpc
    def staff_note(self, actor, thread_id, body, message_id):
        self._authorize(actor, "note", thread_id)
        def check(session, seen):
            if seen["thread_id"] != thread_id:
                raise InvalidRequest("message id already used", {"message_id": ["invalid"]})
            return threads.thread_view(session, session.get(threads.Thread, thread_id), staff=True)
        replay = self._replayed(message_id, check)
        if replay is not None:
            return replay
        with self.db.transaction() as session:
            return threads.note(session, actor, threads.staff_thread_row(session, thread_id),
                                body, message_id)

    @rpc
    def staff_close(self, actor, thread_id, outcome=None):
        self._authorize(actor, "close", thread_id)
        with self.db.transaction() as session:
            view = threads.close(session, actor, threads.staff_thread_row(session, thread_id),
                                 outcome or None)
        self.outbox.nudge()
        return view

    @rpc
    def response_times(self, actor, days=90):
        self._authorize(actor, "response_times")
        try:
            days = int(days)
        except (TypeError, ValueError):
            raise InvalidRequest("invalid period", {"days": ["invalid"]}) from None
        if not 1 <= days <= 366:
            raise InvalidRequest("invalid period", {"days": ["invalid"]})
        with self.db.transaction() as session:
            return threads.response_times(session, days)

    # -- events ------------------------------------------------------------------------
    @reliable_event_handler("career_year_flagged")
    def on_career_year_flagged(self, event):
        if event.member_id is None:
            from carpimko.errors import PermanentFailure
            raise PermanentFailure("career_year_flagged without a member")
        with self.db.transaction() as session:
            threads.open_for_career_flag(session, event)

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        from carpimko import outbox as outbox_rows
        return {"service": self.name, "status": "up",
                "outbox_pending": outbox_rows.pending_count(self.db, Outbox)}


__all__ = ["MessagingService", "NotFound"]
