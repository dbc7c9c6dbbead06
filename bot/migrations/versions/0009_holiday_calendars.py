"""public-holiday calendars: a project's country and subdivision (existing projects from their time zone)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.add_column(sa.Column('country', sa.String(length=8), server_default='', nullable=False))
        batch.add_column(sa.Column('subdivision', sa.String(length=32), server_default='', nullable=False))
    from bot.reports.holiday_regions import default_calendar

    project = sa.table('project', sa.column('id', sa.Integer), sa.column('timezone', sa.String),
                       sa.column('country', sa.String), sa.column('subdivision', sa.String))
    conn = op.get_bind()
    for row_id, timezone in conn.execute(sa.select(project.c.id, project.c.timezone)).all():
        country, subdivision = default_calendar(timezone)
        if country:
            conn.execute(project.update().where(project.c.id == row_id)
                         .values(country=country, subdivision=subdivision))


def downgrade() -> None:
    with op.batch_alter_table('project') as batch:
        batch.drop_column('subdivision')
        batch.drop_column('country')
