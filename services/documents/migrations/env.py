"""Alembic environment of the documents service (one history per service)."""
from carpimko.migrations import run_env
from services.documents.models import Base

run_env(Base.metadata)
