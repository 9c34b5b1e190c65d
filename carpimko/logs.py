"""Logging setup: one line per record with the service name and the chain's
correlation id. JSON by default (``CARPIMKO_LOG_FORMAT=json``), plain text
for people (``text``, what ``make run`` uses)."""
from __future__ import annotations

import logging
import os
import sys

from .observability import CorrelationFilter, JsonFormatter


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
    logging.getLogger("amqp").setLevel(logging.ERROR)  # basic.return chatter of RPC to absent services
