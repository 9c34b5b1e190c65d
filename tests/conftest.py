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


@pytest.fixture
def databases(request, tmp_path):
    """Creates a fresh, migrated database per service, dropped after the test."""
    factory = DatabaseFactory(request.config.getoption("TEST_DATABASE_URL"), tmp_path)
    yield factory
    factory.drop_all()
