"""Alembic environment of the contributions service (one history per service)."""
from carpimko.migrations import run_env
from services.contributions.models import Base

run_env(Base.metadata)
