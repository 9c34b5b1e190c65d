import pytest

from tests.support.suite import RunningSuite


@pytest.fixture(scope="module")
def suite(request, tmp_path_factory):
    config = request.config
    running = RunningSuite(tmp_path_factory.mktemp("suite"),
                           config.getoption("RABBIT_AMQP_URI"),
                           config.getoption("RABBIT_API_URI"),
                           config.getoption("TEST_DATABASE_URL"))
    running.start()
    yield running
    running.stop()
