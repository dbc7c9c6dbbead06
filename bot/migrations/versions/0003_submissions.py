"""modal submissions remembered by view id (a resubmitted modal stores nothing twice)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('submission',
    sa.Column('view_id', sa.String(length=64), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('callback_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', bot.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('view_id')
    )


def downgrade() -> None:
    op.drop_table('submission')
