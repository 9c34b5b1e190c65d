"""Configuration from environment variables, with documented defaults.

Every setting has an embedded default so that ``make run`` works on a fresh
machine: one SQLite file per service under the data folder and RabbitMQ on
localhost. Production sets the URLs (PostgreSQL, a RabbitMQ cluster).

| variable                          | default                                   |
|-----------------------------------|-------------------------------------------|
| CARPIMKO_AMQP_URI                 | pyamqp://guest:guest@localhost:5672/      |
| CARPIMKO_DATA_DIR                 | ./var                                     |
| CARPIMKO_<SERVICE>_DATABASE_URL   | sqlite:///<data dir>/<service>.sqlite3    |
| CARPIMKO_SMTP_HOST / _PORT        | 127.0.0.1 / 8025                          |
| CARPIMKO_SMTP_STARTTLS            | 0 (1: upgrade the connection with STARTTLS)|
| CARPIMKO_SMTP_TIMEOUT             | 10 (seconds)                              |
| CARPIMKO_SMTP_USERNAME / _PASSWORD| unset (set both to authenticate)          |
| CARPIMKO_EMAIL_RATE_PER_SECOND    | 20 (per copy of notifications; 0: no limit)|
| CARPIMKO_LETTERS_CUT_OFF          | 16:00 (Paris time: the daily print batch) |
| CARPIMKO_METRICS_PORT             | 0 (off): /metrics, /healthz, /readyz port  |
| CARPIMKO_LOG_FORMAT               | json (or text)                            |
| CARPIMKO_QUEUE_TYPE               | classic (quorum on a RabbitMQ cluster)    |
| CARPIMKO_MAIL_FROM                | Carpimko <ne-pas-repondre@carpimko.local> |
| CARPIMKO_GATEWAY_ADDRESS          | 127.0.0.1:8000                            |
| CARPIMKO_PUBLIC_URL               | http://<gateway address>                  |
| CARPIMKO_RPC_TIMEOUT              | 5 (seconds)                               |
| CARPIMKO_MAX_ATTEMPTS             | 5 (tries before a message is dead-lettered)|
| CARPIMKO_RETRY_DELAY              | 1 (seconds, doubled at every try, max 60) |
| CARPIMKO_MAX_WORKERS              | 10 (concurrent workers per service copy)  |
| CARPIMKO_BATCH_SIZE               | 50 (most events a batch handler takes at once)|
| CARPIMKO_BATCH_CONCURRENCY        | 2 (batches handled at once per handler and copy)|
| CARPIMKO_COOKIE_SECURE            | 1 (set 0 only for local http development) |
| CARPIMKO_SESSION_HOURS            | 8                                         |
| CARPIMKO_VERIFICATION_KEY         | unset: required by documents (the secret its verification codes are derived from; `make run` sets a development one) |
| CARPIMKO_SESSION_CACHE_SECONDS    | 15 (a gateway copy keeps a resolved session; 0: ask accounts every page) |

Messaging attachments (``services/messaging/attachments.py``):

| variable                              | default                                 |
|---------------------------------------|-----------------------------------------|
| CARPIMKO_ATTACHMENT_MAX_FILE_MB       | 10 (per file, as sent)                  |
| CARPIMKO_ATTACHMENT_MAX_MESSAGE_MB    | 20 (all the files of one message)       |
| CARPIMKO_ATTACHMENT_MAX_COUNT         | 5 (files per message)                   |
| CARPIMKO_ATTACHMENT_MAX_PIXELS        | 40000000 (larger images: refused as bombs) |
| CARPIMKO_CLAMD_ADDRESS                | unset: no virus scan (host:port or a unix socket path) |
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("accounts", "contributions", "documents", "notifications", "messaging")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _positive(name: str, default: str) -> int:
    value = _env(name, default)
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return number


def _seconds(name: str, default: str) -> float:
    """A duration in seconds, 0 or more (0: off)."""
    value = _env(name, default)
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):  # also refuses nan
        raise ValueError(f"{name} must be a number of seconds, 0 or more, not {value!r}")
    return number


def _flag(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    data_dir: Path
    smtp_host: str
    smtp_port: int
    smtp_starttls: bool
    smtp_timeout: float
    smtp_username: str
    smtp_password: str
    email_rate_per_second: float
    letters_cut_off: str
    metrics_port: int
    queue_type: str
    mail_from: str
    gateway_address: str
    public_url: str
    rpc_timeout: float
    max_attempts: int
    retry_delay: float
    max_workers: int
    cookie_secure: bool
    session_hours: int
    attachment_max_file_mb: float = 10
    attachment_max_message_mb: float = 20
    attachment_max_count: int = 5
    attachment_max_pixels: int = 40_000_000
    clamd_address: str = ""
    batch_size: int = 50
    batch_concurrency: int = 2
    verification_key: str = ""
    session_cache_seconds: float = 15.0

    def database_url(self, service: str) -> str:
        default = f"sqlite:///{self.data_dir / (service + '.sqlite3')}"
        return _env(f"CARPIMKO_{service.upper()}_DATABASE_URL", default)

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def letters_dir(self) -> Path:
        return self.data_dir / "letters"

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    def nameko_config(self, service: str | None = None, **extra) -> dict:
        """The config dict handed to a nameko ServiceContainer.

        Services read their settings from the container config (never from
        the environment directly), so tests can hand them any config.
        """
        config = {
            "AMQP_URI": self.amqp_uri,
            "max_workers": self.max_workers,
            "parent_calls_tracked": 10,
            "WEB_SERVER_ADDRESS": self.gateway_address,
            "DATA_DIR": str(self.data_dir),
            "SMTP_HOST": self.smtp_host,
            "SMTP_PORT": self.smtp_port,
            "SMTP_STARTTLS": self.smtp_starttls,
            "SMTP_TIMEOUT": self.smtp_timeout,
            "SMTP_USERNAME": self.smtp_username,
            "SMTP_PASSWORD": self.smtp_password,
            "EMAIL_RATE_PER_SECOND": self.email_rate_per_second,
            "LETTERS_CUT_OFF": self.letters_cut_off,
            "METRICS_PORT": self.metrics_port,
            "QUEUE_TYPE": self.queue_type,
            "MAIL_FROM": self.mail_from,
            "PUBLIC_URL": self.public_url,
            "RPC_TIMEOUT": self.rpc_timeout,
            "MAX_ATTEMPTS": self.max_attempts,
            "RETRY_DELAY": self.retry_delay,
            "COOKIE_SECURE": self.cookie_secure,
            "SESSION_HOURS": self.session_hours,
            "ATTACHMENT_MAX_FILE_MB": self.attachment_max_file_mb,
            "ATTACHMENT_MAX_MESSAGE_MB": self.attachment_max_message_mb,
            "ATTACHMENT_MAX_COUNT": self.attachment_max_count,
            "ATTACHMENT_MAX_PIXELS": self.attachment_max_pixels,
            "CLAMD_ADDRESS": self.clamd_address,
            "BATCH_SIZE": self.batch_size,
            "BATCH_CONCURRENCY": self.batch_concurrency,
            "VERIFICATION_KEY": self.verification_key,
            "SESSION_CACHE_SECONDS": self.session_cache_seconds,
        }
        if service is not None:
            config["DATABASE_URL"] = self.database_url(service)
        config.update(extra)
        return config


def load() -> Settings:
    data_dir = Path(_env("CARPIMKO_DATA_DIR", "var")).resolve()
    gateway_address = _env("CARPIMKO_GATEWAY_ADDRESS", "127.0.0.1:8000")
    return Settings(
        amqp_uri=_env("CARPIMKO_AMQP_URI", "pyamqp://guest:guest@localhost:5672/"),
        data_dir=data_dir,
        smtp_host=_env("CARPIMKO_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(_env("CARPIMKO_SMTP_PORT", "8025")),
        smtp_starttls=_flag("CARPIMKO_SMTP_STARTTLS", False),
        smtp_timeout=float(_env("CARPIMKO_SMTP_TIMEOUT", "10")),
        smtp_username=_env("CARPIMKO_SMTP_USERNAME", ""),
        smtp_password=_env("CARPIMKO_SMTP_PASSWORD", ""),
        email_rate_per_second=float(_env("CARPIMKO_EMAIL_RATE_PER_SECOND", "20")),
        letters_cut_off=_env("CARPIMKO_LETTERS_CUT_OFF", "16:00"),
        metrics_port=int(_env("CARPIMKO_METRICS_PORT", "0")),
        queue_type=_env("CARPIMKO_QUEUE_TYPE", "classic"),
        mail_from=_env("CARPIMKO_MAIL_FROM", "Carpimko <ne-pas-repondre@carpimko.local>"),
        gateway_address=gateway_address,
        public_url=_env("CARPIMKO_PUBLIC_URL", f"http://{gateway_address}").rstrip("/"),
        rpc_timeout=float(_env("CARPIMKO_RPC_TIMEOUT", "5")),
        max_attempts=int(_env("CARPIMKO_MAX_ATTEMPTS", "5")),
        retry_delay=float(_env("CARPIMKO_RETRY_DELAY", "1")),
        max_workers=int(_env("CARPIMKO_MAX_WORKERS", "10")),
        cookie_secure=_flag("CARPIMKO_COOKIE_SECURE", True),
        session_hours=int(_env("CARPIMKO_SESSION_HOURS", "8")),
        attachment_max_file_mb=float(_env("CARPIMKO_ATTACHMENT_MAX_FILE_MB", "10")),
        attachment_max_message_mb=float(_env("CARPIMKO_ATTACHMENT_MAX_MESSAGE_MB", "20")),
        attachment_max_count=int(_env("CARPIMKO_ATTACHMENT_MAX_COUNT", "5")),
        attachment_max_pixels=int(_env("CARPIMKO_ATTACHMENT_MAX_PIXELS", "40000000")),
        clamd_address=_env("CARPIMKO_CLAMD_ADDRESS", ""),
        batch_size=_positive("CARPIMKO_BATCH_SIZE", "50"),
        batch_concurrency=_positive("CARPIMKO_BATCH_CONCURRENCY", "2"),
        verification_key=_env("CARPIMKO_VERIFICATION_KEY", ""),
        session_cache_seconds=_seconds("CARPIMKO_SESSION_CACHE_SECONDS", "15"),
    )
