"""The batch event handler on a real RabbitMQ: batches form under load and
not at a low rate, every event is handled once and acked, and a failing
event is retried and dead-lettered alone while the rest of its batch goes
through (carpimko/handlers.py, BatchEventHandler)."""
from __future__ import annotations

import eventlet

from carpimko.handlers import batch_event_handler
from tests.support import bus, factories
from tests.support.waiting import wait_for

HANDLED: list[list[str]] = []  # the file numbers of each call, in order
ATTEMPTS: dict[str, int] = {}


class Recorder:
    name = "recorder"

    @batch_event_handler("income_declared")
    def on_income_declared(self, events):
        for event in events:
            ATTEMPTS[event.member_id] = ATTEMPTS.get(event.member_id, 0) + 1
        if any(event.member_id == "9999999" for event in events):
            raise ValueError("member 9999999 cannot be handled")
        eventlet.sleep(0.05)  # a batch takes some time: the next one gathers meanwhile
        HANDLED.append([event.member_id for event in events])


def setup_function():
    HANDLED.clear()
    ATTEMPTS.clear()


def _start(container_factory, make_config, **extra):
    container = container_factory(Recorder, make_config(BATCH_CONCURRENCY=1, **extra))
    container.start()
    return container


def test_events_published_together_are_handled_in_batches_once_each(container_factory,
                                                                    make_config, rabbit_config):
    _start(container_factory, make_config, BATCH_SIZE=20)
    numbers = [str(1000000 + i) for i in range(60)]
    bus.publish(rabbit_config["AMQP_URI"], *(factories.income_declared(n) for n in numbers))
    wait_for(lambda: sum(len(batch) for batch in HANDLED) == 60 or None, timeout=20)
    assert sorted(n for batch in HANDLED for n in batch) == numbers  # each once
    assert max(len(batch) for batch in HANDLED) > 1  # batches did form
    assert max(len(batch) for batch in HANDLED) <= 20  # and kept to BATCH_SIZE
    assert len(HANDLED) < 60


def test_an_event_alone_is_handed_over_at_once(container_factory, make_config, rabbit_config):
    _start(container_factory, make_config)
    for number in ("1000001", "1000002", "1000003"):
        bus.publish(rabbit_config["AMQP_URI"], factories.income_declared(number))
        wait_for(lambda: any(number in batch for batch in HANDLED) or None, timeout=5)
    assert HANDLED == [["1000001"], ["1000002"], ["1000003"]]


def test_a_failing_event_is_dead_lettered_alone_and_its_batch_goes_through(
        container_factory, make_config, rabbit_config):
    _start(container_factory, make_config, BATCH_SIZE=50)
    numbers = [str(1000000 + i) for i in range(30)]
    envelopes = [factories.income_declared(n) for n in numbers[:15]]
    envelopes.append(factories.income_declared("9999999"))
    envelopes += [factories.income_declared(n) for n in numbers[15:]]
    bus.publish(rabbit_config["AMQP_URI"], *envelopes)
    wait_for(lambda: sum(len(batch) for batch in HANDLED) == 30 or None, timeout=20)
    dead = wait_for(lambda: bus.dead_letters(rabbit_config["AMQP_URI"], "income_declared",
                                             "recorder", "on_income_declared") or None, timeout=20)
    assert sorted(n for batch in HANDLED for n in batch) == numbers
    assert len(dead) == 1
    assert dead[0].payload["member_id"] == "9999999"
    assert "member 9999999 cannot be handled" in dead[0].headers["x-carpimko-error"]
    # its own attempts: MAX_ATTEMPTS (3) alone, after the batch it first came in
    assert ATTEMPTS["9999999"] == 1 + 3
