"""Account notices: the first-login / forgotten-password link (email) or code
(postal letter), "your password was changed" and "your account is locked".

The secret never travels on the bus: right before sending, the handler asks
accounts to issue it (``issue_reset_secret``), so the only copies are the
email and the printed letter. Each event is delivered once (the inbox claim
is written in the transaction that wraps the send).

Letters are issued by the documents service (RPC ``issue_letter``: with a
verification code and QR code; the access letter's content is never kept
there) and queued for the print batch like every letter.
"""
from __future__ import annotations

import base64
import logging
import uuid
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate


from carpimko import inbox
from carpimko.events import Event

from . import channels, delivering, letters, mailer
from .models import Inbox

log = logging.getLogger(__name__)

RESET_CONSUMER = "notifications.on_password_reset_requested"
CHANGED_CONSUMER = "notifications.on_password_changed"
LOCKED_CONSUMER = "notifications.on_account_locked"
RESET_PATH = "/mot-de-passe/nouveau"
CODE_PATH = "/premiere-connexion/code"
_NAMESPACE = uuid.UUID("3d0f7a7e-6a57-4a37-9d2e-8f7f0c5b2a41")


def notice_id(event_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, event_id))


def compose(template: str, *, to: str, sender: str, notification_id: str, context: dict
            ) -> EmailMessage:
    env = mailer._env
    msg = EmailMessage()
    msg["Subject"] = env.get_template(f"{template}.subject.txt").render(context).strip()
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = f"<{notification_id}@carpimko.local>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(env.get_template(f"{template}.txt").render(context))
    msg.add_alternative(env.get_template(f"{template}.html").render(context), subtype="html")
    return msg


def _claimed(service, consumer: str, event: Event) -> bool:
    with service.db.transaction() as session:
        return session.get(Inbox, (consumer, event.event_id)) is not None


def _render(service, kind: str, data: dict, issue_key: str) -> bytes:
    """A letter issued by the documents service (RPC, with its timeout): it
    carries a verification code and QR code; the same ``issue_key`` (the
    notification id) on a retry gives the same letter back."""
    return base64.b64decode(service._call(service.documents, "documents", "issue_letter",
                                          kind, data, issue_key))


def _post(service, consumer: str, event: Event, contact: dict, pdf_of) -> None:
    notification_id = notice_id(event.event_id)
    if not channels.usable_postal_address(contact):
        log.error("member %s: no usable postal address for %s", event.member_id, event.type)
        with service.db.transaction() as session:
            inbox.claim(session, Inbox, consumer, event.event_id)
        return
    pdf = pdf_of()
    with service.db.transaction() as session:
        if not inbox.claim(session, Inbox, consumer, event.event_id):
            return
        today = datetime.now(timezone.utc).date()
        path = letters.write_letter(service.letters_root, today, notification_id, pdf)
        delivering.queue_letter(session, notification_id, contact, path, letters.page_count(pdf))


def _email(service, consumer: str, event: Event, contact: dict, template: str, context: dict
           ) -> None:
    with service.db.transaction() as session:
        if not inbox.claim(session, Inbox, consumer, event.event_id):
            return
        message = compose(template, to=contact["email"], sender=service.config["MAIL_FROM"],
                          notification_id=notice_id(event.event_id),
                          context={"member": contact, **context})
        service.email_rate.wait()
        mailer.send(message, mailer.SmtpSettings.from_config(service.config))


def _portal(service) -> str:
    return str(service.config.get("PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")


def _member(contact: dict) -> dict:
    return {"full_name": contact["full_name"], "address_lines": contact["address_lines"]}


def on_password_reset_requested(service, event: Event) -> None:
    if _claimed(service, RESET_CONSUMER, event):
        return
    secret = service._call(service.accounts, "accounts", "issue_reset_secret",
                           str(event.payload["request_id"]))
    if secret is None:  # used, superseded or expired meanwhile: nothing to send
        with service.db.transaction() as session:
            inbox.claim(session, Inbox, RESET_CONSUMER, event.event_id)
        return
    contact = service._call(service.accounts, "accounts", "contact_details", event.member_id)
    if secret["channel"] == "email":
        _email(service, RESET_CONSUMER, event, contact, "password_reset", {
            "link": f"{_portal(service)}{RESET_PATH}?jeton={secret['secret']}",
            "minutes": event.payload["expires_in_minutes"]})
        return
    data = {"file_number": event.member_id, "member": _member(contact),
            "issued_on": date.today().isoformat(), "verification": None,
            "purpose": "first_login" if not contact.get("password_set", True) else "password_reset",
            "one_time_code": secret["secret"],
            # the code dies at the time of day it was issued: the last full day is the day before
            "expires_on": (date.fromisoformat(secret["expires_at"][:10]) - timedelta(days=1)).isoformat(),
            "portal_url": f"{_portal(service)}{CODE_PATH}"}

    _post(service, RESET_CONSUMER, event, contact,
          lambda: _render(service, "access_letter", data, notice_id(event.event_id)))


def _notice(service, consumer: str, event: Event, template: str, subject: str, context: dict
            ) -> None:
    if _claimed(service, consumer, event):
        return
    contact = service._call(service.accounts, "accounts", "contact_details", event.member_id)
    if event.payload["channel"] == "email" and channels.choose_channel(contact) == channels.EMAIL:
        _email(service, consumer, event, contact, template, context)
        return
    data = {"file_number": event.member_id, "member": _member(contact),
            "issued_on": date.today().isoformat(), "subject": subject, "kind": template,
            "document_label": subject, "portal_url": _portal(service), "verification": None,
            **{k: str(v) for k, v in context.items()}}

    _post(service, consumer, event, contact,
          lambda: _render(service, "account_notice", data, notice_id(event.event_id)))


def on_password_changed(service, event: Event) -> None:
    changed = event.payload["changed_at"]
    _notice(service, CHANGED_CONSUMER, event, "password_changed",
            "Modification du mot de passe de votre espace personnel",
            {"changed_on": changed.strftime("%d/%m/%Y"),
             "sessions_ended": event.payload["sessions_ended"]})


def on_account_locked(service, event: Event) -> None:
    _notice(service, LOCKED_CONSUMER, event, "account_locked",
            "Verrouillage de votre espace personnel",
            {"failures": event.payload["failures"]})


# -- profile: confirm a new email, tell the previous email / address ---------------------
VERIFY_CONSUMER = "notifications.on_email_verification_requested"
CONTACT_CONSUMER = "notifications.on_contact_details_changed"
VERIFY_PATH = "/profil/courriel"


def on_email_verification_requested(service, event: Event) -> None:
    if _claimed(service, VERIFY_CONSUMER, event):
        return
    secret = service._call(service.accounts, "accounts", "issue_email_secret",
                           str(event.payload["change_id"]))
    if secret is None:
        with service.db.transaction() as session:
            inbox.claim(session, Inbox, VERIFY_CONSUMER, event.event_id)
        return
    contact = service._call(service.accounts, "accounts", "contact_details", event.member_id)
    _email(service, VERIFY_CONSUMER, event, {**contact, "email": secret["email"]},
           "email_verification", {
               "link": f"{_portal(service)}{VERIFY_PATH}?jeton={secret['secret']}",
               "hours": event.payload["expires_in_minutes"] // 60})


def on_contact_details_changed(service, event: Event) -> None:
    """The previous email is told of a new email; the previous address (by
    post) and the current email of a new address; the current email of a new
    phone number."""
    if _claimed(service, CONTACT_CONSUMER, event):
        return
    contact = service._call(service.accounts, "accounts", "contact_details", event.member_id)
    changed = event.payload["changed"]
    context = {"changed": changed}
    previous_email = event.payload.get("previous_email")
    if "email" in changed and previous_email:
        _email(service, CONTACT_CONSUMER, event, {**contact, "email": previous_email},
               "contact_changed", context)
        return
    if "address" in changed and event.payload.get("previous_address_lines"):
        previous = {**contact, "address_lines": event.payload["previous_address_lines"]}
        subject = "Changement d'adresse de votre dossier"
        data = {"file_number": event.member_id, "member": _member(previous),
                "issued_on": date.today().isoformat(), "subject": subject,
                "kind": "contact_changed", "document_label": subject,
                "portal_url": _portal(service), "verification": None}

        _post(service, CONTACT_CONSUMER, event, previous,
              lambda: _render(service, "account_notice", data, notice_id(event.event_id)))
        return
    if channels.choose_channel(contact) == channels.EMAIL:
        _email(service, CONTACT_CONSUMER, event, contact, "contact_changed", context)
        return
    with service.db.transaction() as session:  # a phone number alone: no letter for that
        inbox.claim(session, Inbox, CONTACT_CONSUMER, event.event_id)
