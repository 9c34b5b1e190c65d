"""The accounts service: identity, passwords, sessions, contact details.

Entrypoints only; the rules live in ``authentication`` and ``domain``.
"""
from __future__ import annotations

from nameko.dependency_providers import Config
from nameko.rpc import rpc
from sqlalchemy import text

from carpimko.dependencies import DatabaseProvider
from carpimko.errors import InvalidRequest

from . import authentication
from .schemas import LoginRequest


class AccountsService:
    name = "accounts"

    db = DatabaseProvider()
    config = Config()

    @rpc
    def login(self, file_number, password):
        errors = LoginRequest().validate({"file_number": file_number, "password": password})
        if errors:
            raise InvalidRequest("invalid login request", errors)
        hours = int(self.config.get("SESSION_HOURS", 8))
        with self.db.transaction() as session:
            return authentication.login(session, file_number, password, hours)

    @rpc
    def resolve_session(self, token):
        with self.db.transaction() as session:
            return authentication.resolve(session, token)

    @rpc
    def logout(self, token):
        with self.db.transaction() as session:
            authentication.logout(session, token)
        return True

    @rpc
    def contact_details(self, file_number):
        with self.db.transaction() as session:
            return authentication.contact_details(session, file_number)

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "status": "up"}
