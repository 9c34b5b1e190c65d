"""initial schema

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa
import carpimko.db


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contributors',
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('profession', sa.String(length=64), nullable=False),
    sa.Column('conventionne', sa.Boolean(), nullable=False),
    sa.Column('affiliation_date', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('file_number')
    )
    op.create_table('declarations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('professional_income', carpimko.db.Money(precision=14, scale=2), nullable=True),
    sa.Column('conventioned_income', carpimko.db.Money(precision=14, scale=2), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_declarations_file_number'), ['file_number'], unique=False)

    op.create_table('inbox',
    sa.Column('consumer', sa.String(length=120), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'event_id')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_status_id', ['status', 'id'], unique=False)

    op.create_table('assessments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('declaration_id', sa.String(length=36), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('parameters_version', sa.String(length=32), nullable=False),
    sa.Column('income_used', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('income_declared', sa.Boolean(), nullable=False),
    sa.Column('conventionne', sa.Boolean(), nullable=False),
    sa.Column('total', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('previous_total', carpimko.db.Money(precision=14, scale=2), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('declaration_id')
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index('ix_assessments_member_year', ['file_number', 'year', 'is_current'], unique=False)

    op.create_table('assessment_lines',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('scheme', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('base', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('rate', sa.String(length=16), nullable=True),
    sa.Column('fixed', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('amount', carpimko.db.Money(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assessment_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_lines_assessment_id'), ['assessment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('assessment_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_lines_assessment_id'))

    op.drop_table('assessment_lines')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_assessments_member_year')

    op.drop_table('assessments')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_id')

    op.drop_table('outbox')
    op.drop_table('inbox')
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declarations_file_number'))

    op.drop_table('declarations')
    op.drop_table('contributors')
