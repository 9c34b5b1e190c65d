"""Settings from the environment (carpimko/config.py)."""
from pathlib import Path

import pytest

from carpimko import config

VARIABLES = ["CARPIMKO_AMQP_URI", "CARPIMKO_DATA_DIR", "CARPIMKO_SMTP_HOST", "CARPIMKO_SMTP_PORT",
             "CARPIMKO_MAIL_FROM", "CARPIMKO_GATEWAY_ADDRESS", "CARPIMKO_PUBLIC_URL",
             "CARPIMKO_RPC_TIMEOUT", "CARPIMKO_MAX_ATTEMPTS", "CARPIMKO_RETRY_DELAY",
             "CARPIMKO_MAX_WORKERS", "CARPIMKO_COOKIE_SECURE", "CARPIMKO_SESSION_HOURS",
             "CARPIMKO_VERIFICATION_KEY"] + [
             f"CARPIMKO_{s.upper()}_DATABASE_URL" for s in config.SERVICES]


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults(env, tmp_path):
    s = config.load()
    assert s.amqp_uri == "pyamqp://guest:guest@localhost:5672/"
    assert s.data_dir == (tmp_path / "var").resolve()
    assert s.data_dir.is_absolute()
    assert s.smtp_host == "127.0.0.1"
    assert s.smtp_port == 8025
    assert s.mail_from == "Carpimko <ne-pas-repondre@carpimko.local>"
    assert s.gateway_address == "127.0.0.1:8000"
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.rpc_timeout == 5.0
    assert s.max_attempts == 5
    assert s.retry_delay == 1.0
    assert s.max_workers == 10
    assert s.cookie_secure is True
    assert s.session_hours == 8
    assert s.mail_dir == s.data_dir / "mail"
    assert s.letters_dir == s.data_dir / "letters"
    assert s.documents_dir == s.data_dir / "documents"


def test_overrides(env, tmp_path):
    env.setenv("CARPIMKO_AMQP_URI", "pyamqp://u:p@rabbit:5672/carpimko")
    env.setenv("CARPIMKO_DATA_DIR", str(tmp_path / "data"))
    env.setenv("CARPIMKO_SMTP_HOST", "smtp.example.fr")
    env.setenv("CARPIMKO_SMTP_PORT", "2525")
    env.setenv("CARPIMKO_MAIL_FROM", "Test <t@example.fr>")
    env.setenv("CARPIMKO_GATEWAY_ADDRESS", "0.0.0.0:9000")
    env.setenv("CARPIMKO_RPC_TIMEOUT", "2.5")
    env.setenv("CARPIMKO_MAX_ATTEMPTS", "3")
    env.setenv("CARPIMKO_RETRY_DELAY", "0.2")
    env.setenv("CARPIMKO_MAX_WORKERS", "4")
    env.setenv("CARPIMKO_COOKIE_SECURE", "0")
    env.setenv("CARPIMKO_SESSION_HOURS", "1")
    s = config.load()
    assert s.amqp_uri == "pyamqp://u:p@rabbit:5672/carpimko"
    assert s.data_dir == tmp_path / "data"
    assert (s.smtp_host, s.smtp_port) == ("smtp.example.fr", 2525)
    assert s.mail_from == "Test <t@example.fr>"
    assert s.gateway_address == "0.0.0.0:9000"
    assert s.public_url == "http://0.0.0.0:9000"  # follows the gateway address
    assert s.rpc_timeout == 2.5
    assert s.max_attempts == 3
    assert s.retry_delay == 0.2
    assert s.max_workers == 4
    assert s.cookie_secure is False
    assert s.session_hours == 1


def test_public_url_override_loses_trailing_slash(env):
    env.setenv("CARPIMKO_PUBLIC_URL", "https://espace.carpimko.example/")
    assert config.load().public_url == "https://espace.carpimko.example"


def test_empty_variable_means_default(env):
    env.setenv("CARPIMKO_SMTP_PORT", "")
    env.setenv("CARPIMKO_AMQP_URI", "")
    s = config.load()
    assert s.smtp_port == 8025
    assert s.amqp_uri == "pyamqp://guest:guest@localhost:5672/"


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), (" on ", True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("2", False),
])
def test_cookie_secure_flag(env, value, expected):
    env.setenv("CARPIMKO_COOKIE_SECURE", value)
    assert config.load().cookie_secure is expected


def test_bad_number_fails_loudly(env):
    env.setenv("CARPIMKO_SMTP_PORT", "smtp")
    with pytest.raises(ValueError):
        config.load()


@pytest.mark.parametrize("value", ["0", "-3", "lots"])
def test_batch_settings_must_be_at_least_one(env, value):
    env.setenv("CARPIMKO_BATCH_SIZE", value)
    with pytest.raises(ValueError, match="CARPIMKO_BATCH_SIZE must be a whole number of at least 1"):
        config.load()


def test_settings_are_frozen(env):
    s = config.load()
    with pytest.raises(AttributeError):
        s.smtp_port = 1


@pytest.mark.parametrize("service", config.SERVICES)
def test_database_url_defaults_to_one_sqlite_file_per_service(env, tmp_path, service):
    env.setenv("CARPIMKO_DATA_DIR", str(tmp_path / "d"))
    s = config.load()
    assert s.database_url(service) == f"sqlite:///{tmp_path / 'd' / (service + '.sqlite3')}"


def test_database_url_override_is_per_service(env):
    env.setenv("CARPIMKO_CONTRIBUTIONS_DATABASE_URL", "postgresql://pg/contributions")
    s = config.load()
    assert s.database_url("contributions") == "postgresql://pg/contributions"
    assert s.database_url("accounts") == f"sqlite:///{s.data_dir / 'accounts.sqlite3'}"


def test_nameko_config_keys(env, tmp_path):
    env.setenv("CARPIMKO_DATA_DIR", str(tmp_path))
    s = config.load()
    cfg = s.nameko_config()
    assert cfg == {
        "AMQP_URI": "pyamqp://guest:guest@localhost:5672/", "max_workers": 10,
        "parent_calls_tracked": 10, "WEB_SERVER_ADDRESS": "127.0.0.1:8000",
        "DATA_DIR": str(tmp_path), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 8025,
        "SMTP_STARTTLS": False, "SMTP_TIMEOUT": 10.0, "SMTP_USERNAME": "", "SMTP_PASSWORD": "",
        "EMAIL_RATE_PER_SECOND": 20.0, "LETTERS_CUT_OFF": "16:00", "METRICS_PORT": 0,
        "QUEUE_TYPE": "classic",
        "MAIL_FROM": "Carpimko <ne-pas-repondre@carpimko.local>",
        "PUBLIC_URL": "http://127.0.0.1:8000", "RPC_TIMEOUT": 5.0, "MAX_ATTEMPTS": 5,
        "RETRY_DELAY": 1.0, "COOKIE_SECURE": True, "SESSION_HOURS": 8,
        "ATTACHMENT_MAX_FILE_MB": 10.0, "ATTACHMENT_MAX_MESSAGE_MB": 20.0,
        "ATTACHMENT_MAX_COUNT": 5, "ATTACHMENT_MAX_PIXELS": 40_000_000, "CLAMD_ADDRESS": "",
        "BATCH_SIZE": 50, "BATCH_CONCURRENCY": 2, "VERIFICATION_KEY": "",
        "SESSION_CACHE_SECONDS": 15.0,
    }
    assert "DATABASE_URL" not in cfg


def test_nameko_config_for_a_service_and_extras(env, tmp_path):
    env.setenv("CARPIMKO_DATA_DIR", str(tmp_path))
    s = config.load()
    cfg = s.nameko_config("documents", MAX_ATTEMPTS=1, EXTRA="x")
    assert cfg["DATABASE_URL"] == f"sqlite:///{Path(tmp_path) / 'documents.sqlite3'}"
    assert cfg["MAX_ATTEMPTS"] == 1  # extras win
    assert cfg["EXTRA"] == "x"
    assert cfg["AMQP_URI"] == s.amqp_uri


def test_the_verification_key_reaches_the_services_config(env, tmp_path):
    assert config.load().nameko_config()["VERIFICATION_KEY"] == ""  # unset: documents refuses to start
    env.setenv("CARPIMKO_VERIFICATION_KEY", "a long random secret")
    assert config.load().nameko_config("documents")["VERIFICATION_KEY"] == "a long random secret"


@pytest.mark.parametrize("value", ["-1", "abc", "nan", "inf"])
def test_a_session_cache_time_that_is_not_a_number_of_seconds_is_refused(env, value):
    env.setenv("CARPIMKO_SESSION_CACHE_SECONDS", value)
    with pytest.raises(ValueError, match="CARPIMKO_SESSION_CACHE_SECONDS must be a number of seconds"):
        config.load()


def test_a_session_cache_time_of_zero_turns_the_cache_off(env):
    env.setenv("CARPIMKO_SESSION_CACHE_SECONDS", "0")
    assert config.load().nameko_config()["SESSION_CACHE_SECONDS"] == 0.0
