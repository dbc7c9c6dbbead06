"""client items: what the team needs from the client, and their extensions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('clientitem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('owner_user_id', sa.String(length=32), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('closed_by', sa.String(length=32), nullable=True),
    sa.Column('closed_at', bot.models.UTCDateTime(), nullable=True),
    sa.Column('closed_how', sa.String(length=16), nullable=True),
    sa.Column('closed_on_behalf', sa.Boolean(), nullable=False),
    sa.Column('channel_id', sa.String(length=32), nullable=True),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestone.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clientitem', schema=None) as batch_op:
        batch_op.create_index('ix_clientitem_project_status', ['project_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_clientitem_project_id'), ['project_id'], unique=False)

    op.create_table('clientitemextension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('old_due_date', sa.Date(), nullable=False),
    sa.Column('new_due_date', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by_user_id', sa.String(length=32), nullable=False),
    sa.Column('on_behalf', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['clientitem.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clientitemextension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clientitemextension_item_id'), ['item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clientitemextension', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clientitemextension_item_id'))
    op.drop_table('clientitemextension')
    with op.batch_alter_table('clientitem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clientitem_project_id'))
        batch_op.drop_index('ix_clientitem_project_status')
    op.drop_table('clientitem')
