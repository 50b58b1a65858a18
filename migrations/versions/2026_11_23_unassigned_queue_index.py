"""A partial index that serves the unassigned queue in order on both backends.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_unassigned",
            ["drill_id", "priority", "received_at", "id"],
            unique=False,
            sqlite_where=sa.text("active IS 1 AND assignee_id IS NULL"),
            postgresql_where=sa.text("active IS true AND assignee_id IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_unassigned")
