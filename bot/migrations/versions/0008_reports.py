"""reports: the monthly report setting and the PM's retrospective note of a closed project

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy: other tables refer to the project table).
    op.add_column('project', sa.Column('monthly_report', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('project', sa.Column('monthly_report_since', bot.models.UTCDateTime(), nullable=True))
    op.add_column('project', sa.Column('retro_went_well', sa.Text(), nullable=True))
    op.add_column('project', sa.Column('retro_to_improve', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.drop_column('retro_to_improve')
        batch.drop_column('retro_went_well')
        batch.drop_column('monthly_report_since')
        batch.drop_column('monthly_report')
