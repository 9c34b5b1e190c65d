"""career record: credited periods and flagged years

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('career_credits',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('childbirth_date', sa.Date(), nullable=True),
    sa.Column('months', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_career_credits_file_number'), 'career_credits', ['file_number'], unique=False)
    op.create_table('career_flags',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('thread_id', sa.String(length=36), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_career_flags_file_number'), 'career_flags', ['file_number'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_career_flags_file_number'), table_name='career_flags')
    op.drop_table('career_flags')
    op.drop_index(op.f('ix_career_credits_file_number'), table_name='career_credits')
    op.drop_table('career_credits')
