"""The contributions service: declarations and assessments.

Entrypoints only: the use cases are in ``declarations``, the rules in ``domain``.
"""
from __future__ import annotations

from nameko.rpc import rpc
from sqlalchemy import text

from carpimko.dependencies import DatabaseProvider, OutboxRelay
from carpimko.handlers import reliable_event_handler

from . import declarations
from .domain import parameters
from .models import Outbox


class ContributionsService:
    name = "contributions"

    db = DatabaseProvider()
    outbox = OutboxRelay(Outbox)

    @rpc
    def declare_income(self, file_number, year, professional_income, conventioned_income,
                       declaration_id=None):
        with self.db.transaction() as session:
            view = declarations.record_declaration(
                session, file_number, year, professional_income, conventioned_income,
                source="portal", declaration_id=declaration_id)
        self.outbox.nudge()
        return view

    @reliable_event_handler("income_declared")
    def on_income_declared(self, event):
        with self.db.transaction() as session:
            assessment_id = declarations.assess_declared_income(session, event)
        if assessment_id:
            self.outbox.nudge()

    @rpc
    def get_declaration(self, file_number, declaration_id):
        with self.db.transaction() as session:
            return declarations.get_declaration(session, file_number, declaration_id)

    @rpc
    def list_declarations(self, file_number):
        with self.db.transaction() as session:
            return declarations.list_declarations(session, file_number)

    @rpc
    def declarable_years(self):
        """The years that have a parameter file, oldest first."""
        return list(parameters.available_years())

    @rpc
    def health(self):
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"service": self.name, "status": "up"}
