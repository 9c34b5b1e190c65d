"""What every benchmark that starts the suite takes from its command line, and
the suite the member-facing benchmarks (``load.py``, ``dashboard_cpu.py``) run."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from tests.support.suite import RunningSuite


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` (PostgreSQL; default ``CARPIMKO_TEST_DATABASE_URL``,
    else SQLite), ``--amqp-uri`` and ``--rabbit-api-uri`` (local RabbitMQ)."""
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""))
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")


def members_suite(folder: Path, args: argparse.Namespace) -> RunningSuite:
    """The suite (not started) for simulated members: quiet logs and, since
    they all come from one address (like a NAT), a login limit per client
    raised so that it does not refuse most of them."""
    return RunningSuite(folder, args.amqp_uri, args.rabbit_api_uri, args.database_url,
                        extra_env={"CARPIMKO_LOG_LEVEL": "ERROR",
                                   "CARPIMKO_LOGIN_RATE_LIMIT": "10000/900"})
