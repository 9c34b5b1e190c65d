"""Email composition (jinja2 templates, French) and sending over SMTP.

Emails carry no personal figure and no attachment: they say that something
new is in the personal space. The Message-ID is derived from the
notification id, so a resend after a crash is recognisable as the same mail.
STARTTLS and authentication are used when configured.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import eventlet
from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True, lstrip_blocks=True,
)


class TransientDeliveryError(Exception):
    """The SMTP server could not take the message now (4xx, refused, timeout)."""


class PermanentDeliveryError(Exception):
    """The SMTP server refused the message for good (5xx): a hard bounce."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"SMTP {code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    ca_file: str | None = None  # trust this CA (tests, private relays)

    @classmethod
    def from_config(cls, config: dict) -> "SmtpSettings":
        return cls(host=config["SMTP_HOST"], port=int(config["SMTP_PORT"]),
                   starttls=bool(config.get("SMTP_STARTTLS", False)),
                   username=config.get("SMTP_USERNAME") or None,
                   password=config.get("SMTP_PASSWORD") or None,
                   timeout=float(config.get("SMTP_TIMEOUT", 10)),
                   ca_file=config.get("SMTP_CA_FILE") or None)


def compose_document_email(*, to: str, sender: str, notification_id: str, member: dict,
                           document_title: str, portal_url: str,
                           also_issued: list[str] | tuple = ()) -> EmailMessage:
    context = {"member": member, "document_title": document_title, "portal_url": portal_url,
               "also_issued": list(also_issued)}
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


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                context = ssl.create_default_context(cafile=settings.ca_file)
                smtp.starttls(context=context)
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            refused = smtp.send_message(message)
            if refused:  # some recipients refused (we send to one: it is this one)
                code, reason = next(iter(refused.values()))
                _raise_for(code, reason)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reason = next(iter(exc.recipients.values()))
        _raise_for(code, reason)
    except smtplib.SMTPAuthenticationError as exc:
        raise TransientDeliveryError(f"SMTP authentication failed ({exc.smtp_code}): check "
                                     "CARPIMKO_SMTP_USERNAME / _PASSWORD") from exc
    except smtplib.SMTPResponseException as exc:
        _raise_for(exc.smtp_code, exc.smtp_error)
    except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, disconnected
        raise TransientDeliveryError(f"SMTP server unreachable: {exc}") from exc


def _raise_for(code: int, reason) -> None:
    text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    if 500 <= code < 600:
        raise PermanentDeliveryError(code, text)
    raise TransientDeliveryError(f"SMTP {code}: {text}")


class RateLimiter:
    """At most ``rate`` sends per second from this copy of the service
    (campaigns must not flood the relay); 0 means no limit."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = eventlet.hubs.get_hub().clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            eventlet.sleep(slot - now)
