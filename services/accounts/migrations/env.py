"""Alembic environment of the accounts service (one history per service)."""
from carpimko.migrations import run_env
from services.accounts.models import Base

run_env(Base.metadata)
