"""A real SMTP server (aiosmtpd, in its own process) for the tests."""
from __future__ import annotations

import email
import socket
import subprocess
import sys
import time
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self, folder: Path, port: int | None = None, *options: str):
        self.folder = Path(folder)
        self.port = port or free_port()
        self.options = list(options)  # e.g. "--replies", "451,250" (see ops/smtp_sink.py)
        self.proc = None

    def start(self) -> "SmtpServer":
        self.proc = subprocess.Popen([sys.executable, "-m", "ops.smtp_sink", str(self.folder),
                                      "127.0.0.1", str(self.port), *self.options], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("SMTP server did not start")

    def restart(self, *options: str) -> "SmtpServer":
        """Same port and folder, new behaviour."""
        self.stop()
        self.options = list(options)
        return self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def messages(self) -> list[email.message.EmailMessage]:
        if not self.folder.exists():
            return []
        return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
                for p in sorted(self.folder.glob("*.eml"))]
