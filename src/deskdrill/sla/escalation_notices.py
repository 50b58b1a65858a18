"""A notice when a ticket is escalated: to the person it was handed to, or else to everyone
who works the tier it went up to (their desks show it in the notifications area)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskdrill.sla.models import Notification
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.recording import AFTER_CHANGE, Change

KIND = "escalation"


def tier_role(tier: str) -> str:
    """The notices' ``role`` for everyone working at a tier of a drill (``@L2``)."""
    return f"@{tier}"


def notify(session: Session, ticket: Ticket, change: Change) -> None:
    if change.action != "escalate":
        return
    by = f" by {change.actor}" if change.actor else ""
    session.add(
        Notification(
            drill_id=ticket.drill_id,
            user_id=ticket.assignee_id,
            role=None if ticket.assignee_id else tier_role(ticket.tier),
            ticket_id=ticket.id,
            kind=KIND,
            message=f"{ticket.key}: escalated to {ticket.tier}{by}",
            sim_at=change.at.sim,
            wall_at=change.at.wall,
        )
    )


def install() -> None:
    """Register with the tickets domain (idempotent)."""
    if notify not in AFTER_CHANGE:
        AFTER_CHANGE.append(notify)
