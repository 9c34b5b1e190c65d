"""The accounts service: identity, passwords, sessions, contact details,
first login / forgotten password, brute-force protection, audit log.

Entrypoints only; the rules live in ``authentication``, ``throttle``,
``recovery``, ``audit`` and ``domain``.
"""
from __future__ import annotations

import time

import eventlet
import requests
from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import text

from carpimko.rpc import rpc
from carpimko.observability import Observability
from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.errors import InvalidRequest, NotFound, Overloaded, ServiceUnavailable, Unauthorized

from carpimko.handlers import reliable_event_handler
from carpimko.session_events import SessionEndingsBroadcast

from . import (audit, authentication, contact, franceconnect, privacy, profile, recovery,
               staff, throttle)
from .domain import identity
from .models import Outbox
from .schemas import (CodeResetRequest, LinkResetRequest, LoginRequest, ResetRequest)

# A reset request answers after this long whatever happened, so its timing
# says nothing about the file number (config RESET_RESPONSE_SECONDS).
RESET_RESPONSE_SECONDS = 0.3


def _validated(schema, data: dict) -> dict:
    errors = schema.validate(data)
    if errors:
        raise InvalidRequest("invalid request", errors)
    return data


class AccountsService:
    name = "accounts"

    db = DatabaseProvider()
    observability = Observability()
    outbox = OutboxRelay(Outbox)
    config = Config()
    # every commit that ended sessions tells every gateway copy (carpimko/session_events.py)
    session_endings = SessionEndingsBroadcast()

    @rpc
    def login(self, file_number, password):
        return self._checked_login(file_number, password)

    def _checked_login(self, file_number, password, then=None):
        """The password login with its throttle; ``then(session, result)`` runs in
        the login's transaction. Overloaded (no hashing slot in time: 503) gives
        the attempt back: no password was checked."""
        _validated(LoginRequest(), {"file_number": file_number, "password": password})
        hours = int(self.config.get("SESSION_HOURS", 8))
        checked_hash = None
        if identity.is_file_number(file_number):
            with self.db.transaction() as session:
                state = throttle.before_attempt(session, file_number, recovery.channel_for)
                checked_hash = authentication.stored_hash(session, file_number)
            if state["locked"]:
                self.outbox.nudge()
                raise Unauthorized("invalid file number or password", {})
            if state["delay"]:
                eventlet.sleep(state["delay"])
        try:
            # argon2 (and its wait for a hashing slot) with no database connection held
            check = authentication.verify_password(file_number, checked_hash, password)
            with self.db.transaction() as session:
                result = authentication.login_checked(session, check, password, hours)
                throttle.succeeded(session, file_number)
                if then is not None:
                    then(session, result)
                return result
        except Unauthorized:
            with self.db.transaction() as session:
                audit.record(session, "login_failed",
                             file_number if identity.is_file_number(file_number) else None)
            raise
        except Overloaded:
            if identity.is_file_number(file_number):
                with self.db.transaction() as session:
                    throttle.give_back(session, file_number)
            raise

    @rpc
    def resolve_session(self, token):
        with self.db.transaction() as session:
            return authentication.resolve(session, token)

    @rpc
    def logout(self, token):
        with self.db.transaction() as session:
            authentication.logout(session, token)
        return True

    @rpc
    def logout_everywhere(self, token):
        """End every session of the token's member; how many were ended."""
        with self.db.transaction() as session:
            return authentication.logout_everywhere(session, token)

    @rpc
    def contact_details(self, file_number):
        with self.db.transaction() as session:
            return authentication.contact_details(session, file_number)

    @rpc
    def contact_details_many(self, file_numbers):
        """``{file_number: contact details}`` for the members found (batch consumers)."""
        with self.db.transaction() as session:
            return authentication.contact_details_many(session, file_numbers)

    @rpc
    def birth_date(self, file_number):
        """The member's birth date (ISO), for the retirement estimate (issue #6): accounts owns identity data,
        contributions asks nothing more than this."""
        with self.db.transaction() as session:
            return authentication.birth_date(session, file_number)

    # -- first login / forgotten password ------------------------------------------
    @rpc
    def request_password_reset(self, file_number, client=None):
        """Always None, after the same time, whether or not the account exists."""
        _validated(ResetRequest(), {"file_number": file_number})
        started = time.monotonic()
        try:
            with self.db.transaction() as session:
                recovery.request_reset(session, file_number, client)
            self.outbox.nudge()
        finally:
            floor = float(self.config.get("RESET_RESPONSE_SECONDS", RESET_RESPONSE_SECONDS))
            left = floor - (time.monotonic() - started)
            if left > 0:
                eventlet.sleep(left)
        return None

    @rpc
    def issue_reset_secret(self, request_id):
        """For the notifications service, right before sending: a fresh secret,
        or None when the request is dead (used, superseded, expired)."""
        with self.db.transaction() as session:
            return recovery.issue_secret(session, request_id)

    @rpc
    def reset_link_valid(self, token):
        with self.db.transaction() as session:
            return recovery.link_is_valid(session, token)

    @rpc
    def set_password_with_link(self, token, password, confirmation=None, end_sessions=True,
                               client=None):
        data = _validated(LinkResetRequest(), {"token": token, "password": password,
                                               "confirmation": confirmation})
        with self.db.transaction() as session:
            result = recovery.set_password_with_link(session, data["token"], password,
                                                     confirmation, bool(end_sessions), client)
        return self._finish_reset(result)

    @rpc
    def set_password_with_code(self, file_number, code, password, confirmation=None,
                               end_sessions=True, client=None):
        _validated(CodeResetRequest(), {"file_number": file_number, "code": code,
                                        "password": password, "confirmation": confirmation})
        with self.db.transaction() as session:
            result = recovery.set_password_with_code(session, file_number, code, password,
                                                     confirmation, bool(end_sessions), client)
        return self._finish_reset(result)

    def _finish_reset(self, result):
        # committed first: a wrong code has used one of its attempts
        if not result["ok"]:
            raise InvalidRequest("password not set", result["fields"])
        self.outbox.nudge()
        return {"sessions_ended": result["sessions_ended"], "notified_by": result["notified_by"]}

    # -- lockout, audit, personal data -----------------------------------------------
    @rpc
    def unlock_account(self, file_number, advisor):
        """An advisor unlocks an account (after checking the caller's identity)."""
        if not identity.is_file_number(file_number):
            raise InvalidRequest("invalid file number", {"file_number": ["7 or 9 digits"]})
        with self.db.transaction() as session:
            return throttle.unlock(session, file_number, actor=f"advisor:{advisor}"[:40])

    @rpc
    def recent_logins(self, file_number, limit=20):
        with self.db.transaction() as session:
            return audit.recent_logins(session, file_number, min(int(limit), 100))

    @rpc
    def advisor_accesses(self, file_number, limit=20):
        """What advisors did with the member's file (opened it, downloaded a
        document), newest first: shown to the member on their security page."""
        with self.db.transaction() as session:
            return audit.advisor_events(session, file_number, min(int(limit), 100))

    @rpc
    def export_personal_data(self, file_number):
        with self.db.transaction() as session:
            return privacy.export(session, file_number)

    # -- FranceConnect -------------------------------------------------------------------
    def _franceconnect(self):
        settings = franceconnect.Settings.from_config(self.config)
        if settings is None:
            raise NotFound("FranceConnect is not configured", {})
        return settings

    @rpc
    def franceconnect_start(self):
        settings = self._franceconnect()
        try:
            with self.db.transaction() as session:
                return franceconnect.start(session, settings)
        except requests.RequestException as exc:
            raise ServiceUnavailable("franceconnect", str(exc)[:200]) from None

    @rpc
    def franceconnect_finish(self, code, state):
        """``{"session": ...}`` (as ``login``) or ``{"link_token": ...}`` when the
        identity matches no member yet; Unauthorized when the answer is not trusted."""
        settings = self._franceconnect()
        try:
            with self.db.transaction() as session:  # used up even when what follows fails
                nonce = franceconnect.consume_state(session, state)
            result = franceconnect.exchange(settings, code, nonce)
        except requests.RequestException as exc:
            raise ServiceUnavailable("franceconnect", str(exc)[:200]) from None
        except franceconnect.FranceConnectError as exc:
            with self.db.transaction() as session:
                audit.record(session, "franceconnect_refused", None, actor="franceconnect",
                             reason=exc.reason[:200])
            raise Unauthorized(f"franceconnect: {exc.reason}", {}) from None
        hours = int(self.config.get("SESSION_HOURS", 8))
        with self.db.transaction() as session:
            linked = franceconnect.link(session, result)
            if "pending" in linked:
                return {"link_token": linked["pending"]}
            return {"session": authentication.open_session(session, linked["member"], hours,
                                                           result["id_token"])}

    @rpc
    def franceconnect_link(self, link_token, file_number, password):
        """Log in with the file number and link the pending FranceConnect identity."""
        with self.db.transaction() as session:
            pending = franceconnect.take_pending(session, link_token)
            if pending is None:
                raise InvalidRequest("dead link", {"link": ["franceconnect_link_invalid"]})
            sub = pending.sub

        def then(session, result):
            franceconnect.link_sub(session, result["member"]["file_number"], sub)

        return self._checked_login(file_number, password, then)

    @rpc
    def franceconnect_logout(self, token):
        """End the session; the provider's logout URL when it was opened through it."""
        with self.db.transaction() as session:
            id_token = authentication.franceconnect_id_token(session, token)
            authentication.logout(session, token)
        settings = franceconnect.Settings.from_config(self.config)
        if id_token and settings is not None:
            return franceconnect.logout_url(settings, id_token)
        return None

    # -- profile ---------------------------------------------------------------------
    @rpc
    def get_profile(self, file_number):
        with self.db.transaction() as session:
            return profile.get(session, file_number)

    @rpc
    def update_profile(self, file_number, changes, client=None):
        """Address and phone at once; a new email once confirmed by its link."""
        with self.db.transaction() as session:
            result = profile.update(session, file_number, changes, client)
        self.outbox.nudge()
        return result

    @rpc
    def issue_email_secret(self, change_id):
        with self.db.transaction() as session:
            return profile.issue_email_secret(session, change_id)

    @rpc
    def confirm_email(self, token, client=None):
        with self.db.transaction() as session:
            result = profile.confirm_email(session, token, client)
        self.outbox.nudge()
        return result

    @reliable_event_handler("email_bounced")
    def on_email_bounced(self, event):
        with self.db.transaction() as session:
            contact.flag_bounced_email(session, event)

    # -- staff (advisors, administrators) ------------------------------------------------
    @rpc
    def staff_login(self, login, password, code):
        with self.db.transaction() as session:
            try:
                return staff.login(session, login, password, code)
            except Unauthorized:
                pass  # the failure is audited: commit it, then refuse
        raise Unauthorized("invalid staff credentials", {})

    @rpc
    def resolve_staff_session(self, token):
        with self.db.transaction() as session:
            return staff.resolve(session, token)

    @rpc
    def staff_logout(self, token):
        with self.db.transaction() as session:
            staff.logout(session, token)
        return True

    def _staff(self, session, token, role):
        return staff.require(staff.resolve(session, token), role)

    @rpc
    def staff_member_file(self, staff_token, file_number):
        with self.db.transaction() as session:
            who = self._staff(session, staff_token, "advisor")
            return staff.member_file(session, who, file_number)

    @rpc
    def staff_document_download(self, staff_token, file_number, document_id, title):
        """An advisor downloads a member's document: role checked, audited."""
        with self.db.transaction() as session:
            who = self._staff(session, staff_token, "advisor")
            staff.document_download(session, who, file_number, document_id, title)
            return who

    @rpc
    def staff_unlock(self, staff_token, file_number):
        with self.db.transaction() as session:
            who = self._staff(session, staff_token, "advisor")
            if not identity.is_file_number(file_number):
                raise InvalidRequest("invalid file number", {"file_number": ["7 or 9 digits"]})
            return throttle.unlock(session, file_number, actor=f"advisor:{who['login']}"[:40])

    @rpc
    def staff_create(self, staff_token, login, display_name, role, password):
        """An administrator creates a staff account (``staff_token`` None: the CLI)."""
        with self.db.transaction() as session:
            actor = "cli"
            if staff_token is not None:
                who = self._staff(session, staff_token, "admin")
                actor = f"admin:{who['login']}"
            return staff.create(session, login, display_name, role, password, actor)

    @timer(interval=3600)
    def purge_stale_throttles(self):
        """Forget day-old failures that locked nothing (any file number can get a row)."""
        with self.db.transaction() as session:
            throttle.purge(session)

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        from carpimko import outbox as outbox_rows
        return {"service": self.name, "status": "up",
                "outbox_pending": outbox_rows.pending_count(self.db, Outbox)}
