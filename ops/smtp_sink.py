"""A real SMTP server for development and tests (aiosmtpd): every message
accepted is written as one ``.eml`` file in a folder.

For fault drills it can also answer with scripted codes (``--replies 451,250``
answers 451 to the first DATA, then 250; ``--refuse-recipients 550``
refuses every recipient, or with ``--refuse-matching TEXT`` only those whose
address contains TEXT; ``--drop-after 2`` drops each connection, without a word,
when a third message starts on it, as a relay that restarted or timed the
idle connection out would), require STARTTLS (``--tls-cert/--tls-key``) and
authentication (``--auth user:password``).
"""
from __future__ import annotations

import argparse
import os
import signal
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class MaildirHandler:
    def __init__(self, folder: Path, replies: list[str] | None = None,
                 refuse_recipients: str | None = None, refuse_matching: str | None = None,
                 drop_after: int = 0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.replies = list(replies or [])
        self.refuse_recipients = refuse_recipients
        self.refuse_matching = refuse_matching
        self.drop_after = drop_after

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients and (not self.refuse_matching
                                       or self.refuse_matching in address):
            return f"{self.refuse_recipients} 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.drop_after and getattr(session, "sink_accepted", 0) >= self.drop_after:
            server.transport.abort()  # no reply: the client finds the connection gone
            return "421 4.4.2 Connection dropped"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            code = self.replies.pop(0)
            if not code.startswith("2"):
                return f"{code} {'4.3.0 Try again later' if code.startswith('4') else '5.0.0 Refused'}"
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns()}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(envelope.original_content or envelope.content)
        os.replace(tmp, self.folder / name)
        # aiosmtpd's session lives as long as its connection
        session.sink_accepted = getattr(session, "sink_accepted", 0) + 1
        return "250 Message accepted for delivery"


def _authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False)
    return check


def start(folder: Path, host: str = "127.0.0.1", port: int = 8025, replies=None,
          refuse_recipients=None, auth: str | None = None, tls_cert: str | None = None,
          tls_key: str | None = None, refuse_matching: str | None = None,
          drop_after: int = 0) -> Controller:
    kwargs = {}
    if tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert, tls_key)
        kwargs.update(tls_context=context, require_starttls=True)
    if auth:
        user, _, password = auth.partition(":")
        kwargs.update(authenticator=_authenticator(user, password), auth_required=True,
                      auth_require_tls=bool(tls_cert))
    controller = Controller(MaildirHandler(folder, replies, refuse_recipients, refuse_matching,
                                           drop_after), hostname=host,
                            port=port, **kwargs)
    controller.start()
    return controller


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8025)
    parser.add_argument("--replies", default="", help="comma-separated DATA reply codes, then 250")
    parser.add_argument("--refuse-recipients", default=None, metavar="CODE")
    parser.add_argument("--refuse-matching", default=None, metavar="TEXT",
                        help="with --refuse-recipients: only addresses containing TEXT")
    parser.add_argument("--drop-after", type=int, default=0, metavar="N",
                        help="drop each connection when a message starts after its Nth")
    parser.add_argument("--auth", default=None, metavar="USER:PASSWORD")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args(argv)
    controller = start(Path(args.folder), args.host, args.port,
                       [c for c in args.replies.split(",") if c], args.refuse_recipients,
                       args.auth, args.tls_cert, args.tls_key, args.refuse_matching,
                       args.drop_after)
    print(f"SMTP server on {args.host}:{args.port}, writing to {args.folder}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
