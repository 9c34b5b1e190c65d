"""Email composition (jinja2 templates, French) and sending over SMTP.

Emails carry no personal figure and no attachment: they say that something
new is in the personal space. The Message-ID is derived from the
notification id, so a resend after a crash is recognisable as the same mail.
"""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True, lstrip_blocks=True,
)


class TransientDeliveryError(Exception):
    """The SMTP server could not take the message now (4xx, refused, timeout)."""


def compose_document_email(*, to: str, sender: str, notification_id: str, member: dict,
                           document_title: str, portal_url: str) -> EmailMessage:
    context = {"member": member, "document_title": document_title, "portal_url": portal_url}
    msg = EmailMessage()
    msg["Subject"] = _env.get_template("document_available.subject.txt").render(context).strip()
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = f"<{notification_id}@carpimko.local>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_env.get_template("document_available.txt").render(context))
    msg.add_alternative(_env.get_template("document_available.html").render(context),
                        subtype="html")
    return msg


def send(message: EmailMessage, host: str, port: int, timeout: float = 10) -> None:
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TransientDeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        raise
    except (OSError, smtplib.SMTPServerDisconnected) as exc:
        raise TransientDeliveryError(f"SMTP server unreachable: {exc}") from exc
