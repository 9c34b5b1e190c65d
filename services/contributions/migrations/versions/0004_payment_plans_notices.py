"""payment plans and formal notices

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:30:00
"""
from alembic import op
import sqlalchemy as sa
import carpimko.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('formal_notices',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('amount', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('formal_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_formal_notices_file_number'), ['file_number'], unique=False)
    op.create_table('payment_plans',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('instalments', sa.Integer(), nullable=False),
    sa.Column('first_due', sa.Date(), nullable=False),
    sa.Column('agreed_on', sa.Date(), nullable=False),
    sa.Column('agreed_by', sa.String(length=64), nullable=False),
    sa.Column('agreed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_plans_file_number'), ['file_number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payment_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_plans_file_number'))
    op.drop_table('payment_plans')
    with op.batch_alter_table('formal_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_formal_notices_file_number'))
    op.drop_table('formal_notices')
