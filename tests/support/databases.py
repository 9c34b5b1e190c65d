"""Fresh databases for tests: SQLite files, or PostgreSQL databases created
(and dropped) on the server given by ``--database-url``."""
from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from carpimko import migrations


class DatabaseFactory:
    def __init__(self, server_url: str, tmp_path: Path):
        self.server_url = server_url
        self.tmp_path = tmp_path
        self.created: list[str] = []
        self.urls: dict[str, str] = {}

    def _admin(self):
        url = self.server_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg2://" + url[len("postgresql://"):]
        return create_engine(url, isolation_level="AUTOCOMMIT")

    def url(self, service: str, migrate: bool = True) -> str:
        """The (migrated) database URL of ``service`` for this test."""
        if service in self.urls:
            return self.urls[service]
        if not self.server_url:
            url = f"sqlite:///{self.tmp_path / (service + '.sqlite3')}"
        else:
            name = f"test_{service}_{uuid.uuid4().hex[:12]}"
            engine = self._admin()
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
            self.created.append(name)
            url = self.server_url.rsplit("/", 1)[0] + "/" + name
        if migrate:
            migrations.upgrade(service, url)
        self.urls[service] = url
        return url

    def drop_all(self) -> None:
        if not self.created:
            return
        engine = self._admin()
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
