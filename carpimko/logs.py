"""Logging setup: one line per record with the service name and the chain's
correlation id. JSON by default (``CARPIMKO_LOG_FORMAT=json``), plain text
for people (``text``, what ``make run`` uses)."""
from __future__ import annotations

import logging
import os
import sys

from .observability import CorrelationFilter, JsonFormatter


class ExpectedErrors(logging.Filter):
    """nameko logs an error an entrypoint declared expected (``carpimko.rpc.rpc``: a refusal answered to the
    caller) as a warning with its traceback; here it is one line at INFO, kept only when INFO is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("(expected)"):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
            return logging.getLogger().isEnabledFor(logging.INFO)
        return True


def setup(service: str) -> None:
    level = os.environ.get("CARPIMKO_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationFilter())
    if os.environ.get("CARPIMKO_LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)s {service} %(name)s [%(correlation_id)s]: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "nameko.containers", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    containers = logging.getLogger("nameko.containers")
    containers.filters[:] = [f for f in containers.filters if not isinstance(f, ExpectedErrors)]
    containers.addFilter(ExpectedErrors())
    logging.getLogger("amqp").setLevel(logging.ERROR)  # basic.return chatter of RPC to absent services
