"""Single-host runner: the whole suite in the foreground (``make run``).

Applies every service's migrations, declares the broker topology, seeds the
demo data (development only), starts the development SMTP server, every
service listed in ``ops/registry.py`` (accounts, contributions, documents,
notifications, messaging; N copies of any with ``--scale name=N``) and the gateway, prints the
portal's address and the demo logins, and supervises them: a copy that dies
is reported and restarted. Ctrl-C (or SIGTERM) stops everything cleanly.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from carpimko import broker, config, migrations  # noqa: E402
from ops.registry import DATABASE_SERVICES  # noqa: E402

# the development verification key of `make run` (see carpimko/config.py): never in production
DEV_VERIFICATION_KEY = "carpimko-development-verification-key"

RABBIT_HELP = ("start it with `rabbitmq-server -detached` (or `sudo systemctl start rabbitmq-server`); "
               "install it with `sudo apt-get install rabbitmq-server`; or point "
               "CARPIMKO_AMQP_URI at a running broker")


class Suite:
    """The processes of one running suite."""

    def __init__(self, settings, scale: dict[str, int], smtp: bool = True, demo: bool = True,
                 quiet: bool = False):
        self.settings = settings
        self.scale = scale
        self.smtp = smtp
        self.demo = demo
        self.quiet = quiet
        self.procs: dict[str, subprocess.Popen] = {}
        # development only: a local FranceConnect-like provider, unless a real one is configured
        self.franceconnect_port = 0
        if demo and not os.environ.get("CARPIMKO_FRANCECONNECT_ISSUER"):
            from ops import franceconnect_dev
            self.franceconnect_port = int(os.environ.get("CARPIMKO_FRANCECONNECT_DEV_PORT", "9090"))
            os.environ["CARPIMKO_FRANCECONNECT_ISSUER"] = f"http://127.0.0.1:{self.franceconnect_port}/api/v2"
            os.environ["CARPIMKO_FRANCECONNECT_CLIENT_ID"] = franceconnect_dev.CLIENT_ID
            os.environ["CARPIMKO_FRANCECONNECT_CLIENT_SECRET"] = franceconnect_dev.CLIENT_SECRET
        # development only: the documents' verification key (production sets its own secret)
        if not os.environ.get("CARPIMKO_VERIFICATION_KEY"):
            os.environ["CARPIMKO_VERIFICATION_KEY"] = DEV_VERIFICATION_KEY

    def prepare(self) -> None:
        reason = broker.check_broker(self.settings.amqp_uri)
        if reason:
            raise SystemExit(f"RabbitMQ is not reachable at {_safe(self.settings.amqp_uri)} "
                             f"({reason}): {RABBIT_HELP}.")
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        for name in DATABASE_SERVICES:
            migrations.upgrade(name, self.settings.database_url(name))
        broker.declare_topology(self.settings.amqp_uri)
        if self.demo:
            from ops import demo_data
            demo_data.seed(self.settings)

    def metrics_port(self, key: str) -> int:
        """Each copy serves /metrics, /healthz, /readyz on its own port
        (``CARPIMKO_METRICS_BASE_PORT`` + its rank; base 0 turns them off)."""
        base = int(os.environ.get("CARPIMKO_METRICS_BASE_PORT", "9100"))
        if not base or key in ("smtp", "franceconnect"):
            return 0
        return base + self.keys().index(key)

    def _spawn(self, key: str, args: list[str]) -> None:
        out = subprocess.DEVNULL if self.quiet else None
        env = dict(os.environ, CARPIMKO_METRICS_PORT=str(self.metrics_port(key)),
                   CARPIMKO_PARENT_PID=str(os.getpid()))  # copies stop if the runner dies
        self.procs[key] = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=out,
                                           stderr=out, start_new_session=True, env=env)

    def _command(self, key: str) -> list[str]:
        if key == "smtp":
            return ["-m", "ops.smtp_sink", str(self.settings.mail_dir), self.settings.smtp_host,
                    str(self.settings.smtp_port)]
        if key == "franceconnect":
            return ["-m", "ops.franceconnect_dev", "--port", str(self.franceconnect_port)]
        return ["-m", "ops.serve", key.split("#")[0]]

    def keys(self) -> list[str]:
        keys = ["smtp"] if self.smtp else []
        if self.franceconnect_port:
            keys.append("franceconnect")
        for name in (*DATABASE_SERVICES, "gateway"):
            keys += [f"{name}#{i}" for i in range(self.scale.get(name, 1))]
        return keys

    def start(self) -> None:
        for key in self.keys():
            self._spawn(key, self._command(key))

    def wait_healthy(self, timeout: float = 90) -> bool:
        url = f"http://{self.settings.gateway_address}/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=3) as resp:
                    if resp.status == 200:
                        return True
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.5)
        return False

    def supervise_once(self) -> list[str]:
        """Restart copies that died; return their keys."""
        restarted = []
        for key, proc in list(self.procs.items()):
            if proc.poll() is not None:
                print(f"[run] {key} exited with code {proc.returncode}; restarting", flush=True)
                self._spawn(key, self._command(key))
                restarted.append(key)
        return restarted

    def stop(self, timeout: float = 30) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _safe(uri: str) -> str:
    if "@" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


def banner(settings, suite=None) -> str:
    from ops.demo_data import DEMO_PASSWORD
    metrics = []
    if suite is not None and suite.metrics_port(suite.keys()[-1]):
        metrics = ["  Metrics:   " + ", ".join(f"{k.replace('#0', '')} :{suite.metrics_port(k)}"
                                               for k in suite.keys() if k != "smtp")]
    return "\n".join([
        "",
        "  Carpimko member space is running.",
        f"  Portal:    {settings.public_url}/",
        f"  API:       {settings.public_url}/api/v1/   health: {settings.public_url}/health",
        f"  Emails:    {settings.mail_dir}/   letters: {settings.letters_dir}/",
        "  Demo logins (password " + DEMO_PASSWORD + "):",
        "    1234567    Claire Martin, nurse (notified by email; an unread reply in /messages)",
        "    7654321    Jean Dupont, physiotherapist (no email: notified by post)",
        "    123456789  Odette Lefebvre, survivor's pension",
        "  Advisors:  /agents/messages (create one: carpimko accounts add-staff LOGIN --name NAME "
        "--role advisor|supervisor|admin)",
        *([f"  FranceConnect (local test provider): {os.environ['CARPIMKO_FRANCECONNECT_ISSUER']}"]
          if suite is not None and suite.franceconnect_port else []),
        *metrics,
        "  Ctrl-C stops everything.",
        "",
    ])


def parse_scale(values: list[str]) -> dict[str, int]:
    scale = {}
    for value in values:
        name, _, count = value.partition("=")
        if name not in (*DATABASE_SERVICES, "gateway") or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--scale {value!r}: expected SERVICE=N with SERVICE one of "
                             f"{', '.join((*DATABASE_SERVICES, 'gateway'))} and N ≥ 1")
        scale[name] = int(count)
    return scale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=N",
                        help="run N copies of a service (competing consumers)")
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo data")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop everything when the process that started the runner dies "
                             "(tests and benchmarks)")
    args = parser.parse_args(argv)
    os.environ.setdefault("CARPIMKO_COOKIE_SECURE", "0")  # local http only
    os.environ.setdefault("CARPIMKO_LOG_FORMAT", "text")  # people read these logs
    settings = config.load()
    suite = Suite(settings, parse_scale(args.scale), demo=not args.no_demo)
    try:
        suite.prepare()
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 1
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    suite.start()
    if suite.wait_healthy():
        print(banner(settings, suite), flush=True)
    else:
        print("[run] the gateway did not report every service up within 90 s; see the logs above",
              file=sys.stderr, flush=True)
    parent = os.getppid()
    while not stopping:
        time.sleep(0.5)
        if args.exit_with_parent and os.getppid() != parent:
            print("[run] the process that started me is gone; stopping", flush=True)
            break
        if not stopping:
            suite.supervise_once()
    print("[run] stopping…", flush=True)
    suite.stop()
    print("[run] stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
