"""Start the whole suite as a user would (``deploy/run.py``), isolated: its
own RabbitMQ vhost, data folder, ports and databases."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import requests

from ops.registry import DATABASE_SERVICES
from tests.support.databases import DatabaseFactory
from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
# every service with a database, messaging included (left out, it fell back to SQLite in the
# suite's folder even when the others ran on PostgreSQL)
SERVICES = DATABASE_SERVICES


class RunningSuite:
    def __init__(self, workdir: Path, amqp_uri: str, rabbit_api_uri: str, database_server: str = "",
                 extra_env: dict | None = None, run_args: list[str] | None = None):
        self.workdir = Path(workdir)
        self.base_amqp_uri = amqp_uri
        self.rabbit_api_uri = rabbit_api_uri
        self.databases = DatabaseFactory(database_server, self.workdir)
        self.extra_env = extra_env or {}
        self.run_args = run_args or []
        self.vhost = f"carpimko_e2e_{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.smtp_port = free_port()
        self.metrics_base_port = 0  # set a free base port to turn /metrics on
        self.franceconnect_port = free_port()
        self.data_dir = self.workdir / "var"
        self.proc = None
        self.log_path = self.workdir / "suite.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def amqp_uri(self) -> str:
        u = urlparse(self.base_amqp_uri)
        return f"{u.scheme}://{u.netloc}/{self.vhost}"

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "CARPIMKO_AMQP_URI": self.amqp_uri,
            "CARPIMKO_DATA_DIR": str(self.data_dir),
            "CARPIMKO_GATEWAY_ADDRESS": f"127.0.0.1:{self.port}",
            "CARPIMKO_SMTP_PORT": str(self.smtp_port),
            "CARPIMKO_COOKIE_SECURE": "0",
            "CARPIMKO_RETRY_DELAY": "0.5",
            "CARPIMKO_MAX_ATTEMPTS": "8",
            "CARPIMKO_LOG_LEVEL": "WARNING",
            "CARPIMKO_METRICS_BASE_PORT": str(self.metrics_base_port),
            "CARPIMKO_FRANCECONNECT_DEV_PORT": str(self.franceconnect_port),
        })
        for service in SERVICES:
            env[f"CARPIMKO_{service.upper()}_DATABASE_URL"] = self.databases.url(service, migrate=False)
        env.update(self.extra_env)
        return env

    def _rabbit(self):
        from nameko.testing.rabbit import Client
        return Client(self.rabbit_api_uri)

    def start(self, timeout: float = 120) -> "RunningSuite":
        rabbit = self._rabbit()
        rabbit.create_vhost(self.vhost)
        rabbit.set_vhost_permissions(self.vhost, urlparse(self.base_amqp_uri).username or "guest",
                                     ".*", ".*", ".*")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "deploy/run.py", "--exit-with-parent",
                                      *self.run_args], cwd=ROOT,
                                     env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the suite exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the suite did not become healthy in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            self._rabbit().delete_vhost(self.vhost)
        except Exception:  # noqa: BLE001 - best effort
            pass
        self.databases.drop_all()

    def carpimko(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run the ``carpimko`` operations command against this suite."""
        return subprocess.run([sys.executable, "-m", "ops.cli", *args], cwd=ROOT, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def mails(self) -> list[Path]:
        return sorted((self.data_dir / "mail").glob("*.eml"))

    def letters(self) -> list[Path]:
        return sorted((self.data_dir / "letters").rglob("*.pdf"))
