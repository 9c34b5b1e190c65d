"""documents rendered on first read: the data snapshot and layout version
written at issue; size (like sha256) unknown until the first read

Existing rows were rendered at issue: they keep their sha256 and size, and
get no snapshot (NULL), which is how the service tells them apart.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('layout_version', sa.String(length=20), nullable=True))
        batch_op.alter_column('size', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # documents never read have no content to fall back on: refuse rather than lose them
    bind = op.get_bind()
    pending = bind.execute(sa.text(
        "SELECT count(*) FROM documents WHERE sha256 IS NULL AND snapshot IS NOT NULL")).scalar()
    if pending:
        raise RuntimeError(f"{pending} documents are not rendered yet: render them "
                           "(the documents service's render_pending RPC) before downgrading")
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.alter_column('size', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('layout_version')
        batch_op.drop_column('snapshot')
