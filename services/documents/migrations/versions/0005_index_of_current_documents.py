"""index of the members' current documents (not superseded), by kind and year

Issuing a batch supersedes each member's current document of the same kind
and year in one UPDATE joined to the batch's keys. Without this index, a
table growing faster than its statistics (a campaign, a fresh deployment)
made PostgreSQL join them with a sequential scan of every document, once per
batch: 39 ms a batch at 80,000 documents, a third of a core at 100
declarations a second (docs/benchmarks.md, fifth run).

Built CONCURRENTLY on PostgreSQL, so a deployment does not block the
issuing of documents while it is built.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_CURRENT = sa.text("superseded_by IS NULL")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # a concurrent build that was interrupted leaves an invalid index
            # behind: drop it and build it again
            if bind.execute(sa.text(
                    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = 'ix_documents_current' AND NOT i.indisvalid")).first():
                op.drop_index('ix_documents_current', table_name='documents',
                              postgresql_concurrently=True)
            op.create_index('ix_documents_current', 'documents', ['file_number', 'kind', 'year'],
                            postgresql_where=_CURRENT, postgresql_concurrently=True)
    else:
        op.create_index('ix_documents_current', 'documents', ['file_number', 'kind', 'year'],
                        sqlite_where=_CURRENT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index('ix_documents_current', table_name='documents',
                          postgresql_concurrently=True, if_exists=True)
    else:
        op.drop_index('ix_documents_current', table_name='documents')
