"""A refusal a service answers (``carpimko.rpc.rpc``: ``errors.CALLER_ERRORS``) is logged as one line at INFO,
not at ERROR with a traceback; a fault is still an ERROR. On RabbitMQ, through a real nameko container."""
from __future__ import annotations

import logging

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from carpimko.errors import NotFound
from carpimko.logs import ExpectedErrors
from carpimko.rpc import rpc


class RefusingService:
    name = "refusing"

    @rpc
    def find(self, file_number):
        raise NotFound(f"no contributor {file_number}", {})

    @rpc()
    def crash(self):
        raise RuntimeError("a bug")


@pytest.fixture
def records(rabbit_config, container_factory):
    container_factory(RefusingService, rabbit_config).start()
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    containers = logging.getLogger("nameko.containers")
    keep, expected = Keep(), ExpectedErrors()
    containers.addHandler(keep)
    containers.addFilter(expected)
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    yield seen
    logging.getLogger().setLevel(root_level)
    containers.removeFilter(expected)
    containers.removeHandler(keep)


def test_a_refusal_is_answered_and_logged_as_one_line_at_info(rabbit_config, records):
    with ServiceRpcProxy("refusing", rabbit_config) as refusing:
        with pytest.raises(NotFound, match="no contributor 1234567"):
            refusing.find("1234567")
        with pytest.raises(Exception, match="a bug"):
            refusing.crash()
    refusal = [r for r in records if "no contributor 1234567" in r.getMessage()]
    fault = [r for r in records if "a bug" in r.getMessage()]
    assert [(r.levelname, r.exc_info) for r in refusal] == [("INFO", None)]
    assert [r.levelname for r in fault] == ["ERROR"] and fault[0].exc_info is not None


def test_the_refusal_line_is_dropped_when_info_is_not_logged(rabbit_config, records):
    logging.getLogger().setLevel(logging.WARNING)
    with ServiceRpcProxy("refusing", rabbit_config) as refusing:
        with pytest.raises(NotFound):
            refusing.find("7654321")
    assert not [r for r in records if "7654321" in r.getMessage()]
