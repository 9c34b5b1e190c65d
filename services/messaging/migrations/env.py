"""Alembic environment of the messaging service (one history per service)."""
from carpimko.migrations import run_env
from services.messaging.models import Base

run_env(Base.metadata)
