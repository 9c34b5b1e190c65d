"""Metrics, health endpoints and correlated logs of a running service copy."""
from __future__ import annotations

import json
import logging

import requests

from carpimko.observability import CorrelationFilter, JsonFormatter, Observability
from services.contributions.service import ContributionsService
from tests.support import bus, factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for


class ObservedContributions(ContributionsService):
    """The real contributions service, with the observability extension."""

    observability = Observability()


def test_metrics_health_and_readiness(container_factory, make_config):
    port = free_port()
    config = make_config("contributions", METRICS_PORT=port)
    factories.add_contributor(config["DATABASE_URL"], "1234567")
    container_factory(ObservedContributions, config).start()
    base = f"http://127.0.0.1:{port}"
    assert requests.get(f"{base}/healthz").status_code == 200
    assert requests.get(f"{base}/readyz").text.strip() == "ready"

    def value(text, metric):
        line = next((l for l in text.splitlines() if l.startswith(metric + " ")), None)
        return float(line.split()[-1]) if line else 0.0

    handled = 'carpimko_events_handled_total{event_type="income_declared",service="contributions"}'
    failed = 'carpimko_events_failed_total{event_type="income_declared",service="contributions"}'
    before = requests.get(f"{base}/metrics").text  # counters are per process: take deltas
    bus.publish(config["AMQP_URI"], factories.income_declared("1234567"),
                factories.income_declared("9999999"))  # the second one is dead-lettered

    def metrics():
        text = requests.get(f"{base}/metrics").text
        done = (value(text, handled) == value(before, handled) + 1
                and value(text, failed) == value(before, failed) + 1)
        return text if done else None

    text = wait_for(metrics)
    assert "carpimko_event_handler_seconds_bucket" in text
    wait_for(lambda: (lambda t: t if value(
        t, 'carpimko_outbox_pending{service="contributions"}') == 0 and value(
        t, 'carpimko_dead_letters{queue="evt-carpimko-income_declared--contributions.'
           'on_income_declared.dlq",service="contributions"}') == 1 else None)(
        requests.get(f"{base}/metrics").text))


def test_json_log_lines_carry_the_correlation_id(container_factory, make_config):
    records = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Capture()
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter("contributions"))
    logging.getLogger().addHandler(handler)
    try:
        config = make_config("contributions")
        factories.add_contributor(config["DATABASE_URL"], "1234567")
        container_factory(ObservedContributions, config).start()
        event = factories.income_declared("4444444")  # unknown member: logged as an error
        bus.publish(config["AMQP_URI"], event)
        line = wait_for(lambda: next((json.loads(r) for r in records
                                      if "dead-lettering" in r), None))
    finally:
        logging.getLogger().removeHandler(handler)
    assert line["correlation_id"] == event["correlation_id"]
    assert line["service"] == "contributions" and line["level"] == "ERROR"
