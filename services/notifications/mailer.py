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
    """One message over a connection of its own (account notices, messaging)."""
    with SmtpSession(settings) as session:
        session.send(message)


class _Smtp(smtplib.SMTP):
    """smtplib's client, noting whether the current message reached DATA: a
    connection found dropped before that point accepted nothing of it."""

    data_started = False

    def data(self, msg):
        self.data_started = True
        return super().data(msg)


class SmtpSession:
    """One SMTP connection for a batch of messages (``with SmtpSession(s) as smtp``).

    Why: a connection (TCP, greeting, EHLO, maybe STARTTLS and AUTH) per
    message cost more CPU than the message itself. The connection opens at the
    first ``send`` (a batch of letters only never connects) and is closed
    (QUIT) at the end of the ``with``.

    A reused connection the server dropped meanwhile (idle timeout, restart)
    is reopened, and the message sent again, only when the drop (or a 421)
    shows before DATA: the server cannot have accepted anything of that
    message, so this never sends a mail twice. A drop at or after DATA is a
    :class:`TransientDeliveryError`, as with a connection per message.
    ``send`` raises the same errors as :func:`send`; after a 5xx refusal the
    connection stays usable (smtplib resets the transaction)."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: _Smtp | None = None
        self._sent = 0  # messages accepted on the current connection
        self.connections = 0  # opened so far (observability, tests)

    def __enter__(self) -> "SmtpSession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        try:
            try:
                self._transmit(message)
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPSenderRefused) as exc:
                if not self._stale(exc):
                    raise
                self._drop()
                self._transmit(message)  # once, on a fresh connection
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop_if_closed()
            code, reason = next(iter(exc.recipients.values()))
            _raise_for(code, reason)
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            raise TransientDeliveryError(f"SMTP authentication failed ({exc.smtp_code}): check "
                                         "CARPIMKO_SMTP_USERNAME / _PASSWORD") from exc
        except smtplib.SMTPResponseException as exc:
            self._drop_if_closed()
            _raise_for(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, disconnected
            self._drop()
            raise TransientDeliveryError(f"SMTP server unreachable: {exc}") from exc

    def _transmit(self, message: EmailMessage) -> None:
        smtp = self._smtp or self._connect()
        smtp.data_started = False
        refused = smtp.send_message(message)
        if refused:  # some recipients refused (we send to one: it is this one)
            code, reason = next(iter(refused.values()))
            _raise_for(code, reason)
        self._sent += 1

    def _stale(self, exc: smtplib.SMTPException) -> bool:
        """A reused connection that the server had closed (or was closing,
        421) before this message's DATA: nothing of it was accepted."""
        smtp = self._smtp
        if smtp is None or self._sent == 0 or smtp.data_started:
            return False
        return (isinstance(exc, smtplib.SMTPServerDisconnected)
                or getattr(exc, "smtp_code", None) == 421)

    def _connect(self) -> _Smtp:
        settings = self.settings
        smtp = _Smtp(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.starttls:
                context = ssl.create_default_context(cafile=settings.ca_file)
                smtp.starttls(context=context)
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp, self._sent = smtp, 0
        self.connections += 1
        return smtp

    def _drop_if_closed(self) -> None:
        """After a refusal: smtplib reset the transaction, or closed on a 421."""
        if self._smtp is not None and self._smtp.sock is None:
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp, self._sent = None, 0

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        self._drop()


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
