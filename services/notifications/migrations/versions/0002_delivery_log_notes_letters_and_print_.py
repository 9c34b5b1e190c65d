"""delivery log notes, letters and print batches

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import carpimko.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('letter_batches',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('cut_off', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('letter_count', sa.Integer(), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('pdf_path', sa.String(length=400), nullable=False),
    sa.Column('manifest_path', sa.String(length=400), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cut_off')
    )
    op.create_table('letters',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('file_number', sa.String(length=9), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['letter_batches.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letters_batch_id'), ['batch_id'], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=200), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('title')

    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letters_batch_id'))

    op.drop_table('letters')
    op.drop_table('letter_batches')
