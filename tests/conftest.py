"""Root conftest: eventlet first (nameko's fixtures hang without it), then
the fixtures every layer shares (databases, config, SMTP server)."""
import carpimko.green  # noqa: F401 - must be first

import os  # noqa: E402

import pytest  # noqa: E402

from tests.support.databases import DatabaseFactory  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--database-url", action="store", dest="TEST_DATABASE_URL",
                     default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""),
                     help="PostgreSQL server URL (an existing database, e.g. "
                          "postgresql://postgres@localhost/postgres) under which each test "
                          "creates its own databases; SQLite files when empty")


def pytest_configure(config):
    config.option.suppress_eventlet_notification = True


def pytest_collection_modifyitems(session, config, items):
    """Tests that stop the machine's RabbitMQ or database run last."""
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)


@pytest.fixture
def databases(request, tmp_path):
    """Creates a fresh, migrated database per service, dropped after the test."""
    factory = DatabaseFactory(request.config.getoption("TEST_DATABASE_URL"), tmp_path)
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session", autouse=True)
def _broker_is_there(request):
    """Integration and e2e tests need RabbitMQ and its management API: say so
    in one line instead of hanging or failing a hundred times."""
    paths = {str(item.fspath) for item in request.session.items}
    if not any("/integration/" in p or "/e2e/" in p for p in paths):
        return
    from carpimko.broker import check_broker
    amqp = request.config.getoption("RABBIT_AMQP_URI")
    reason = check_broker(amqp)
    if reason:
        pytest.exit(f"RabbitMQ is not reachable at {amqp} ({reason}): start it with "
                    "`rabbitmq-server -detached`", returncode=3)
    import requests
    api = request.config.getoption("RABBIT_API_URI")
    try:
        requests.get(f"{api}/api/overview", timeout=5).raise_for_status()
    except Exception as exc:  # noqa: BLE001
        pytest.exit(f"RabbitMQ's management API is not answering at {api} ({exc}): enable it "
                    "with `rabbitmq-plugins enable rabbitmq_management`", returncode=3)
