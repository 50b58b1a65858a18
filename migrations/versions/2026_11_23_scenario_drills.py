"""Drills from scenarios: the scenario a drill runs, its schedule, and roster tiers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drill_scenarios",
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handed_out", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["drills.id"],
            name=op.f("fk_drill_scenarios_drill_id_drills"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("drill_id", name=op.f("pk_drill_scenarios")),
    )
    op.create_table(
        "scheduled_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["drills.id"],
            name=op.f("fk_scheduled_events_drill_id_drills"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_scheduled_events_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_events")),
        sa.UniqueConstraint("drill_id", "key", name=op.f("uq_scheduled_events_drill_id_key")),
    )
    with op.batch_alter_table("scheduled_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduled_events_pending",
            ["drill_id", "due", "id"],
            unique=False,
            sqlite_where=sa.text("done_at IS NULL"),
            postgresql_where=sa.text("done_at IS NULL"),
        )
    op.create_table(
        "scenario_tickets",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=160), nullable=False),
        sa.Column("persona", sa.String(length=64), nullable=False),
        sa.Column("report_required", sa.Boolean(), nullable=False),
        sa.Column("chases", sa.Integer(), nullable=False),
        sa.Column("mood", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["drills.id"],
            name=op.f("fk_scenario_tickets_drill_id_drills"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_scenario_tickets_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_scenario_tickets")),
        sa.UniqueConstraint("drill_id", "ref", name=op.f("uq_scenario_tickets_drill_id_ref")),
    )
    with op.batch_alter_table("drill_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drill_members", schema=None) as batch_op:
        batch_op.drop_column("tier")
    op.drop_table("scenario_tickets")
    with op.batch_alter_table("scheduled_events", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_events_pending")
    op.drop_table("scheduled_events")
    op.drop_table("drill_scenarios")
