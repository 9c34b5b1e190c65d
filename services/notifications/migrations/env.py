"""Alembic environment of the notifications service (one history per service)."""
from carpimko.migrations import run_env
from services.notifications.models import Base

run_env(Base.metadata)
