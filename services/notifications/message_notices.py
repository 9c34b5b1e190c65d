"""``message_posted``: the fund replied in the member's secure messaging.

The member is told that a message is waiting in their personal space, never
its content: by email when one reaches them (``channels.choose_channel``),
else by a postal notice issued by documents (``issue_letter``: an
``account_notice`` of kind ``message_posted``, verifiable like every letter)
and queued for the print batch. Once per event (the inbox claim is written
in the transaction that wraps the send).
"""
from __future__ import annotations

from datetime import date

from carpimko.events import Event

from . import channels
from .password_notices import _claimed, _email, _member, _portal, _post, _render, notice_id

MESSAGE_CONSUMER = "notifications.on_message_posted"
SUBJECT = "Un nouveau message vous attend dans votre espace personnel"


def on_message_posted(service, event: Event) -> None:
    if _claimed(service, MESSAGE_CONSUMER, event):
        return
    contact = service._call(service.accounts, "accounts", "contact_details", event.member_id)
    if channels.choose_channel(contact) == channels.EMAIL:
        _email(service, MESSAGE_CONSUMER, event, contact, "message_posted",
               {"portal_url": _portal(service)})
        return
    data = {"file_number": event.member_id, "member": _member(contact),
            "issued_on": date.today().isoformat(), "subject": SUBJECT, "kind": "message_posted",
            "document_label": SUBJECT, "portal_url": _portal(service), "verification": None}
    _post(service, MESSAGE_CONSUMER, event, contact,
          lambda: _render(service, "account_notice", data, notice_id(event.event_id)))
