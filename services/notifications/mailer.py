"""Email composition (jinja2 templates, French) and sending over SMTP.

Emails carry no personal figure and no attachment: they say that something
new is in the personal space. The Message-ID is derived from the
notification id, so a resend after a crash is recognisable as the same mail.
STARTTLS and authentication are used when configured.
"""
from __future__ import annotations

import binascii
import smtplib
import ssl
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import cache, lru_cache
from pathlib import Path

import eventlet
from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True, lstrip_blocks=True,
    auto_reload=False,  # templates ship with the code: no stat() of the file per email
)


@cache
def template(name: str):
    """A template compiled once per process (``get_template`` looks it up,
    and checks the file, on every call)."""
    return _env.get_template(name)


@dataclass(frozen=True)
class OutgoingEmail:
    """A message ready for the wire: its envelope and its bytes (CRLF lines).

    Why not an :class:`EmailMessage` for document notices: with the
    ``email`` package's default policy, building and flattening one cost
    about 1.8 ms of CPU (header objects parsed and re-folded, MIME parts
    built then walked), several times the SMTP exchange itself; these
    messages have a fixed shape (two alternative UTF-8 parts, ASCII headers)
    that is cheap to write directly."""

    sender: str  # envelope sender (MAIL FROM)
    recipient: str  # envelope recipient (RCPT TO)
    message_id: str
    data: bytes


def message_id_for(notification_id: str) -> str:
    """The Message-ID of a notification's email: the same on every retry."""
    return f"<{notification_id}@carpimko.local>"


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
                           also_issued: list[str] | tuple = ()) -> "OutgoingEmail | EmailMessage":
    """The notice that documents are in the personal space: plain text and
    HTML alternatives. An :class:`OutgoingEmail` written directly when every
    header is ASCII (always, for the fund's own addresses and subjects); an
    :class:`EmailMessage` otherwise (an internationalised address), which
    the ``email`` package encodes."""
    context = {"member": member, "document_title": document_title, "portal_url": portal_url,
               "also_issued": list(also_issued)}
    subject = template("document_available.subject.txt").render(context).strip()
    text = template("document_available.txt").render(context)
    html = template("document_available.html").render(context)
    headers = {"Subject": subject, "From": sender, "To": to,
               "Date": formatdate(localtime=False, usegmt=True),
               "Message-ID": message_id_for(notification_id),
               "Auto-Submitted": "auto-generated"}
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"the {name} header may not contain a line break: {value!r}")
    if not all(value.isascii() for value in headers.values()):
        msg = EmailMessage()
        for name, value in headers.items():
            msg[name] = value
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg
    return OutgoingEmail(sender=_envelope_address(sender), recipient=_envelope_address(to),
                         message_id=headers["Message-ID"],
                         data=_alternative_message(headers, text, html))


@lru_cache(maxsize=256)
def _envelope_address(header_value: str) -> str:
    """The bare address of ``Name <address>`` (the sender is always the same:
    parsed once)."""
    return parseaddr(header_value)[1]


def _alternative_message(headers: dict[str, str], text: str, html: str) -> bytes:
    """multipart/alternative with a text/plain and a text/html part, UTF-8,
    quoted-printable (7-bit safe: no 8BITMIME needed from the relay), CRLF."""
    parts = [_quoted_printable(text), _quoted_printable(html)]
    boundary = f"=_{uuid.uuid4().hex}"
    while any(boundary.encode() in part for part in parts):  # never, in practice
        boundary = f"=_{uuid.uuid4().hex}"
    lines = [_header(name, value) for name, value in headers.items()]
    lines += ["MIME-Version: 1.0",
              _header("Content-Type", f'multipart/alternative; boundary="{boundary}"'), "", ""]
    out = ["\r\n".join(lines).encode("ascii")]
    for subtype, body in zip(("plain", "html"), parts):
        out.append(f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii"))
        out.append(body)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


def _quoted_printable(text: str) -> bytes:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _header(name: str, value: str, width: int = 78) -> str:
    """``Name: value``, folded at spaces so that lines stay within ``width``
    (RFC 5322 §2.2.3; a word longer than that stays whole, below 998)."""
    line, lines = f"{name}:", []
    for word in value.split(" "):
        if len(line) + 1 + len(word) > width and line.strip() not in ("", f"{name}:"):
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    return "\r\n".join(lines)


def send(message: "EmailMessage | OutgoingEmail", settings: SmtpSettings) -> None:
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

    def send(self, message: "EmailMessage | OutgoingEmail") -> None:
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

    def _transmit(self, message: "EmailMessage | OutgoingEmail") -> None:
        smtp = self._smtp or self._connect()
        smtp.data_started = False
        if isinstance(message, OutgoingEmail):
            refused = smtp.sendmail(message.sender, [message.recipient], message.data)
        else:
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


class SmtpPool:
    """SMTP connections kept open from one batch to the next (``with
    pool.session() as smtp``), each used by one batch at a time.

    Why: at a steady rate a batch is one or two emails, and opening a
    connection (TCP, greeting, EHLO, STARTTLS, AUTH) then QUIT for each cost
    more CPU than the email. A connection the relay closed while it waited is
    reopened by :class:`SmtpSession` before anything of the next message was
    accepted (never a mail twice). One left idle ``idle_seconds`` is closed
    (QUIT) when the pool is next used, and all are when the service stops. A
    batch that ends with an exception closes its connection instead of
    handing it back: it may have stopped in the middle of an SMTP exchange."""

    def __init__(self, settings: SmtpSettings, idle_seconds: float = 30.0, clock=time.monotonic):
        self.settings = settings
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._idle: list[tuple[SmtpSession, float]] = []  # (session, when it was handed back)

    @contextmanager
    def session(self):
        self._close_idle()
        session = self._idle.pop()[0] if self._idle else SmtpSession(self.settings)
        try:
            yield session
        except BaseException:
            session.close()
            raise
        self._idle.append((session, self._clock()))

    def _close_idle(self) -> None:
        limit = self._clock() - self.idle_seconds
        stale = [session for session, since in self._idle if since < limit]
        self._idle = [(session, since) for session, since in self._idle if since >= limit]
        for session in stale:
            session.close()

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for session, _ in idle:
            session.close()


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
