"""The priority a ticket had when an SLA warning or breach fired, for the metrics: the
engine raises a ticket's priority after a miss, which filed the miss under the new one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_firings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.String(length=2), nullable=True))
    # Firings recorded before: the ticket's priority now is the best there is.
    op.execute(
        "UPDATE sla_firings SET priority = "
        "(SELECT tickets.priority FROM tickets WHERE tickets.id = sla_firings.ticket_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("sla_firings", schema=None) as batch_op:
        batch_op.drop_column("priority")
