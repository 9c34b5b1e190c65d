"""Database glue: engines, the money column type, transactions, migrations.

Each service owns its database (one URL per service). SQLite is the embedded
default; PostgreSQL is what CI and production use (psycopg2, made cooperative
by ``eventlet.monkey_patch()``).

Why a lock for SQLite: under eventlet, greenthreads of one process share the
hub. Two transactions of the same process writing to one SQLite file would
make the second block the *whole process* on SQLite's file lock while the
first one cannot run to release it. Transactions on SQLite are therefore
serialised per process; PostgreSQL needs no such thing.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Numeric, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class Money(TypeDecorator):
    """Decimal with two places: NUMERIC(14, 2) on PostgreSQL, text on SQLite
    (whose numbers are floats), never a float anywhere."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value).quantize(Decimal("0.01"))


def make_engine(url: str, pool_size: int = 12) -> Engine:
    """An engine sized for ``pool_size`` concurrent workers (max_workers + 2)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return create_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True,
                         pool_timeout=30)


class Database:
    """A service's engine plus a transaction scope (the unit of work)."""

    def __init__(self, url: str, pool_size: int = 12):
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._lock = _make_lock() if self.is_sqlite else None

    @contextmanager
    def transaction(self):
        """One transaction: commit on success, roll back on any error."""
        if self._lock is not None:
            with self._lock:
                yield from self._transaction()
        else:
            yield from self._transaction()

    def _transaction(self):
        session: Session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self):
        self.engine.dispose()


def _make_lock():
    """A green semaphore when eventlet patched threads, else a real lock."""
    try:
        from eventlet import patcher
        if patcher.is_monkey_patched("thread"):
            from eventlet.semaphore import Semaphore
            return Semaphore(1)
    except ImportError:  # pragma: no cover - eventlet is a dependency
        pass
    return threading.Lock()
