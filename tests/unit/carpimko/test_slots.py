"""carpimko.files.Slots: at most N calls at once in real threads; a caller
that cannot get a slot in time is told at once (Overloaded), never hangs."""
import time

import eventlet
import pytest

from carpimko.errors import Overloaded, ServiceUnavailable
from carpimko.files import Slots


def test_a_caller_waits_for_a_slot_then_is_told_overloaded():
    slots = Slots(1, wait=0.2)
    holder = eventlet.spawn(slots.run, time.sleep, 0.6)
    eventlet.sleep(0.05)  # the holder has the slot and sleeps in a real thread
    started = time.monotonic()
    with pytest.raises(Overloaded) as caught:
        slots.run(time.sleep, 0)
    assert 0.15 < time.monotonic() - started < 0.5
    assert isinstance(caught.value, ServiceUnavailable)  # the gateway answers 503
    holder.wait()
    assert slots.run(lambda: 42) == 42  # the slot was given back


def test_slots_run_side_by_side_up_to_their_size():
    slots = Slots(2, wait=0.05)
    started = time.monotonic()
    pool = eventlet.GreenPool()
    results = list(pool.imap(lambda _: slots.run(time.sleep, 0.3), range(2)))
    assert results == [None, None]
    assert time.monotonic() - started < 0.55  # both at once, not one after the other


def test_an_error_gives_the_slot_back():
    slots = Slots(1, wait=0.05)
    with pytest.raises(ZeroDivisionError):
        slots.run(lambda: 1 / 0)
    assert slots.run(lambda: "free") == "free"


def test_overloaded_crosses_rpc_boundaries_as_itself():
    from nameko.exceptions import deserialize, serialize
    back = deserialize(serialize(Overloaded("no free slot for verify within 3 s (2 at once)")))
    assert type(back) is Overloaded and "no free slot" in back.message
