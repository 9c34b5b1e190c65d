"""Integration fixtures: a vhost per test (nameko's ``rabbit_config``), real
databases (``databases``), a real SMTP server, service containers."""
from __future__ import annotations

import pytest

from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.integration


@pytest.fixture
def smtp_server(tmp_path):
    server = SmtpServer(tmp_path / "mail").start()
    yield server
    server.stop()


@pytest.fixture
def make_config(rabbit_config, databases, tmp_path):
    """Build a service's container config: its own database, fast retries."""
    def build(service: str | None = None, **extra) -> dict:
        config = {
            **rabbit_config,
            "max_workers": 4,
            "DATA_DIR": str(tmp_path / "data"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": 1,
            "MAIL_FROM": "Carpimko <ne-pas-repondre@carpimko.test>",
            "PUBLIC_URL": "https://espace.carpimko.test",
            "VERIFICATION_KEY": "integration-tests-verification-key",
            "RPC_TIMEOUT": 3,
            "MAX_ATTEMPTS": 3,
            "RETRY_DELAY": 0.2,
            "OUTBOX_POLL_INTERVAL": 0.2,
            "COOKIE_SECURE": False,
            "SESSION_HOURS": 1,
        }
        if service is not None:
            config["DATABASE_URL"] = databases.url(service)
        config.update(extra)
        return config
    return build
