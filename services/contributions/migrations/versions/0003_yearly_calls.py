"""yearly calls: provisional and adjusted assessments, campaigns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import carpimko.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.alter_column('declaration_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column('basis', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('income_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('trigger', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('cause_declaration_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('campaign_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('surcharge', carpimko.db.Money(precision=14, scale=2), nullable=True))
    op.create_table('campaigns',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('campaign_members',
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.PrimaryKeyConstraint('campaign_id', 'file_number')
    )
    op.create_table('income_estimates',
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('amount', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('file_number', 'year', 'month')
    )


def downgrade() -> None:
    op.drop_table('income_estimates')
    op.drop_table('campaign_members')
    op.drop_table('campaigns')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_column('surcharge')
        batch_op.drop_column('campaign_id')
        batch_op.drop_column('cause_declaration_id')
        batch_op.drop_column('trigger')
        batch_op.drop_column('income_year')
        batch_op.drop_column('basis')
        batch_op.alter_column('declaration_id', existing_type=sa.String(length=36), nullable=False)
