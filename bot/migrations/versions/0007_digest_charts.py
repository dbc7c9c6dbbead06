"""digest charts: a project setting to leave the chart out of the weekly digest; an outbox row sent after another (the digest after its chart)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.add_column(sa.Column('charts_enabled', sa.Boolean(), server_default='1', nullable=False))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('after_key', sa.String(length=160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('after_key')
    with op.batch_alter_table('project') as batch:
        batch.drop_column('charts_enabled')
