"""milestone acceptance (验收): requests, issues, and the project's auto-accept setting

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.add_column(sa.Column('auto_accept_after_days', sa.Integer(), server_default='0', nullable=False))
    op.create_table('acceptance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('delivery', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('requested_by', sa.String(length=32), nullable=False),
    sa.Column('requested_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('message_channel_id', sa.String(length=32), nullable=True),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('decided_on_behalf', sa.Boolean(), nullable=False),
    sa.Column('auto_accepted', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestone.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('milestone_id')
    )
    op.create_index('ix_acceptance_project_id', 'acceptance', ['project_id'], unique=False)
    op.create_index('ix_acceptance_status_requested', 'acceptance', ['status', 'requested_at'], unique=False)
    op.create_table('acceptanceissue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('acceptance_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('raised_by', sa.String(length=32), nullable=False),
    sa.Column('raised_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('resolved_by', sa.String(length=32), nullable=True),
    sa.Column('resolved_at', bot.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['acceptance_id'], ['acceptance.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_acceptanceissue_acceptance_id', 'acceptanceissue', ['acceptance_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_acceptanceissue_acceptance_id', table_name='acceptanceissue')
    op.drop_table('acceptanceissue')
    op.drop_index('ix_acceptance_status_requested', table_name='acceptance')
    op.drop_index('ix_acceptance_project_id', table_name='acceptance')
    op.drop_table('acceptance')
    with op.batch_alter_table('project') as batch:
        batch.drop_column('auto_accept_after_days')
