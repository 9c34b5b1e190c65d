"""``carpimko dead-letters list|show|replay|purge``: inspect and replay
messages that failed for good (see ``carpimko.handlers``)."""
from __future__ import annotations

import json

from kombu import Connection

from carpimko import broker
from carpimko.handlers import ATTEMPTS_HEADER


def _dlq_names() -> list[str]:
    return [broker.dead_letter_queue_name(broker.queue_name(*s)) for s in broker.SUBSCRIPTIONS]


def _resolve(name: str) -> list[str]:
    """A full queue name, a service name (all its subscriptions), or any
    unambiguous part of a queue name."""
    names = _dlq_names()
    if name in names:
        return [name]
    by_service = [broker.dead_letter_queue_name(broker.queue_name(*s))
                  for s in broker.SUBSCRIPTIONS if s[1] == name]
    if by_service:
        return by_service
    matches = [n for n in names if name in n]
    if len(matches) != 1:
        raise SystemExit(f"unknown or ambiguous dead-letter queue {name!r}; known: {', '.join(names)}")
    return matches


def counts(amqp_uri: str) -> dict[str, int]:
    out = {}
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        for name in _dlq_names():
            try:
                _, count, _ = channel.queue_declare(name, passive=True)
            except Exception:  # noqa: BLE001 - queue not declared yet
                channel = conn.channel()
                count = 0
            out[name] = count
    return out


def show(amqp_uri: str, name: str, limit: int = 10) -> list[dict]:
    """Peek at up to ``limit`` messages per queue (they stay in the queue)."""
    items = []
    for queue_name in _resolve(name):
        items += _show_one(amqp_uri, queue_name, limit)
    return items


def _show_one(amqp_uri: str, name: str, limit: int) -> list[dict]:
    items, held = [], []
    with Connection(amqp_uri, connect_timeout=5) as conn:
        queue = conn.SimpleQueue(name, no_ack=False)
        try:
            for _ in range(limit):
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                held.append(message)
                headers = message.headers or {}
                try:
                    body = message.payload
                except Exception:  # noqa: BLE001 - an undecodable message: show its bytes
                    body = repr(message.body[:2000])
                items.append({"queue": name, "error": headers.get("x-carpimko-error"),
                              "attempts": headers.get(ATTEMPTS_HEADER),
                              "failed_at": headers.get("x-carpimko-failed-at"),
                              "body": body})
        finally:
            for message in held:
                message.requeue()
            queue.close()
    return items


def replay(amqp_uri: str, name: str, limit: int | None = None) -> int:
    """Move messages back to their subscription's main queue, attempts reset."""
    return sum(_replay_one(amqp_uri, queue_name, limit) for queue_name in _resolve(name))


def _replay_one(amqp_uri: str, name: str, limit: int | None) -> int:
    main = name[: -len(".dlq")]
    moved = 0
    with Connection(amqp_uri, connect_timeout=5,
                    transport_options={"confirm_publish": True}) as conn:
        queue = conn.SimpleQueue(name, no_ack=False)
        producer = conn.Producer(serializer="json")
        while limit is None or moved < limit:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            headers = {k: v for k, v in (message.headers or {}).items()
                       if not k.startswith("x-carpimko") and not k.startswith("x-death")}
            producer.publish(message.body, exchange="", routing_key=main, headers=headers,
                             delivery_mode=2, content_type=message.content_type,
                             content_encoding=message.content_encoding)
            message.ack()
            moved += 1
        queue.close()
    return moved


def purge(amqp_uri: str, name: str) -> int:
    total = 0
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        for queue_name in _resolve(name):
            try:
                total += channel.queue_purge(queue_name) or 0
            except Exception:  # noqa: BLE001 - not declared yet: nothing to purge
                channel = conn.channel()
    return total


def format_items(items: list[dict]) -> str:
    return "\n".join(json.dumps(item, ensure_ascii=False, default=str) for item in items)
