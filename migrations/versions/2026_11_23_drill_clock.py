"""The drill clock: state, speed and the anchors that derive simulated time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("clock_state", sa.String(length=16), server_default="draft", nullable=False)
        )
        batch_op.add_column(
            sa.Column("clock_speed", sa.Numeric(9, 3), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("clock_anchor_sim", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("clock_anchor_wall", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("drills", schema=None) as batch_op:
        batch_op.drop_column("clock_anchor_wall")
        batch_op.drop_column("clock_anchor_sim")
        batch_op.drop_column("clock_speed")
        batch_op.drop_column("clock_state")
