"""What a block of code asks a database: each statement object executed on an
engine (to tell a statement built once from one built per call) and the SQL
sent for it."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def executed(engine):
    """Yields a list of ``(statement object, SQL text)``, filled as the block runs."""
    seen: list = []
    pending: list = []

    def before_execute(_conn, clauseelement, *_args):
        pending.append(clauseelement)

    def before_cursor_execute(_conn, _cursor, sql, *_args):
        seen.append((pending.pop() if pending else None, sql))

    event.listen(engine, "before_execute", before_execute)
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_execute", before_execute)
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
