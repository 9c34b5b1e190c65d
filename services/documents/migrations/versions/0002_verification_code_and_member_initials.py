"""verification code (its hash) and member initials on documents

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('member_initials', sa.String(length=40), nullable=True))
        batch_op.create_index('ux_documents_verification_hash', ['verification_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ux_documents_verification_hash')
        batch_op.drop_column('member_initials')
        batch_op.drop_column('verification_hash')
