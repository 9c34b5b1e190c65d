"""The raw ceiling of the broker on this machine: kombu publishing persistent
messages with publisher confirms (one confirm per message, as the outbox relay
and the retry path do) into a durable queue, then consuming and acking them.

Every hop of the chain (income_declared -> contributions_recalculated ->
document_generated -> notification_sent, plus schedule_changed) is one such
publish and one such consume on the same RabbitMQ, so the chain can never be
faster than this rate divided by the events a declaration causes. Runs in its
own vhost, which it deletes.
Usage: python tests/bench/bench_broker.py [--count 20000]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from kombu import Connection, Exchange, Queue  # noqa: E402

BODY = {"event_id": "x" * 36, "type": "income_declared", "version": 1, "payload": {"year": 2026,
        "professional_income": "40000.00", "conventioned_income": None}, "member_id": "1234567"}


def measure(amqp_uri: str, rabbit_api_uri: str, count: int = 20000) -> dict:
    from nameko.testing.rabbit import Client
    vhost = f"carpimko_bench_{uuid.uuid4().hex[:8]}"
    rabbit = Client(rabbit_api_uri)
    rabbit.create_vhost(vhost)
    rabbit.set_vhost_permissions(vhost, urlparse(amqp_uri).username or "guest", ".*", ".*", ".*")
    uri = f"{amqp_uri.rstrip('/')}/{vhost}"
    exchange = Exchange("bench", type="topic", durable=True)
    queue = Queue("bench", exchange, routing_key="#", durable=True)
    try:
        with Connection(uri, transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer(serializer="json")
            queue(conn.default_channel).declare()
            start = time.perf_counter()
            latencies = []
            for _ in range(count):
                t0 = time.perf_counter()
                producer.publish(BODY, exchange=exchange, routing_key="income_declared",
                                 delivery_mode=2)
                latencies.append(time.perf_counter() - t0)
            published = time.perf_counter() - start
        received = 0
        with Connection(uri) as conn:
            def on_message(body, message):
                nonlocal received
                received += 1
                message.ack()
            with conn.Consumer(queue, callbacks=[on_message], prefetch_count=100):
                start = time.perf_counter()
                while received < count:
                    conn.drain_events(timeout=30)
                consumed = time.perf_counter() - start
    finally:
        rabbit.delete_vhost(vhost)
    latencies.sort()
    return {"messages": count, "publish_per_second": count / published,
            "consume_per_second": count / consumed,
            "hop_per_second": count / (published + consumed),
            "confirm_p50_ms": latencies[len(latencies) // 2] * 1000,
            "confirm_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")
    parser.add_argument("--json", action="store_true", help="one line of JSON (for run.py)")
    args = parser.parse_args()
    print(json.dumps(measure(args.amqp_uri, args.rabbit_api_uri, args.count),
                     indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
