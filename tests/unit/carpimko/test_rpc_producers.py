"""``carpimko.rpc.pooled_producer``: nameko publishes every RPC request and reply
through it; the kombu connection that names a producer pool is built once per
settings (nameko built one, parsing the broker URI, for every message)."""
from __future__ import annotations

import nameko.amqp.publish
import pytest
from kombu.pools import producers

from carpimko import rpc


@pytest.fixture
def built(monkeypatch):
    made = []
    real = rpc.Connection

    def connection(*args, **kwargs):
        made.append(kwargs["transport_options"])
        return real(*args, **kwargs)
    monkeypatch.setattr(rpc, "Connection", connection)
    monkeypatch.setattr(rpc, "_POOL_KEYS", {})
    return made


def test_nameko_publishes_through_it():
    assert nameko.amqp.publish.get_producer is rpc.pooled_producer


def test_one_key_connection_per_settings_and_the_same_pool(built):
    options = {"max_retries": 3, "interval_start": 2, "interval_step": 1, "interval_max": 5}
    pools = set()
    for _ in range(3):
        with rpc.pooled_producer("memory://", True, None, None, options) as producer:
            pools.add(id(producers[producer.connection]))
    assert len(built) == 1 and len(pools) == 1
    assert built[0]["confirm_publish"] is True
    with rpc.pooled_producer("memory://", False, None, None, options):
        pass
    assert len(built) == 2 and built[1]["confirm_publish"] is False
    assert "confirm_publish" not in options  # nameko's shared dict is not what the pool keeps


def test_a_producer_checked_out_publishes(built):
    from kombu import Exchange, Queue
    exchange = Exchange("t", type="direct")
    queue = Queue("t", exchange, routing_key="t")
    with rpc.pooled_producer("memory://", False, None, None, None) as producer:
        producer.publish({"ok": 1}, exchange=exchange, routing_key="t", declare=[queue])
        channel = producer.connection.channel()
        message = queue(channel).get()
    assert message is not None and message.payload == {"ok": 1}
