"""The engine's notices for one person in a drill (theirs, and their role's)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.sla.models import Notification


def latest(*, session: Session, user: User, drill_id: int, limit: int = 10) -> list[Notification]:
    """Newest first. The caller has checked that ``user`` may see the drill."""
    mine = Notification.user_id == user.id
    for_role = (Notification.user_id.is_(None)) & (Notification.role == str(user.role))
    query = (
        select(Notification)
        .where(Notification.drill_id == drill_id, or_(mine, for_role))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
