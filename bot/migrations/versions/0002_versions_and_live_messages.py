"""versions on decided and edited records; outbox rows know the message they render

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED = ("project", "requirement", "milestone", "changerequest", "risk")


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('rendered_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_target'), ['target'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_target'))
        batch_op.drop_column('rendered_hash')
        batch_op.drop_column('target')
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
