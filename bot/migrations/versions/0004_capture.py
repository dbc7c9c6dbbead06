"""capture from the conversation: a record keeps the Slack message it came from; the project's capture emoji

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 08:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('requirement', 'changerequest', 'risk', 'feedbackresponse')


def upgrade() -> None:
    op.add_column('project', sa.Column('capture_emoji', sa.String(length=64), server_default='memo',
                                       nullable=False))
    for table in TABLES:
        op.add_column(table, sa.Column('source_channel_id', sa.String(length=32), nullable=True))
        op.add_column(table, sa.Column('source_ts', sa.String(length=32), nullable=True))
        op.add_column(table, sa.Column('source_permalink', sa.String(length=500), nullable=True))
        op.add_column(table, sa.Column('source_user_id', sa.String(length=32), nullable=True))
        op.create_index(f'uq_{table}_source', table, ['source_channel_id', 'source_ts'], unique=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(f'uq_{table}_source', table_name=table)
        with op.batch_alter_table(table) as batch:
            for column in ('source_user_id', 'source_permalink', 'source_ts', 'source_channel_id'):
                batch.drop_column(column)
    with op.batch_alter_table('project') as batch:
        batch.drop_column('capture_emoji')
