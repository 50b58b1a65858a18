"""The notices for one person in a drill: theirs, their role's, and their tier's."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from deskdrill.accounts.models import User
from deskdrill.drills import service as drills
from deskdrill.sla.escalation_notices import tier_role
from deskdrill.sla.models import Notification


def addressed_to(session: Session, user: User, drill_id: int) -> Select[tuple[Notification]]:
    """The notices of a drill for ``user``: theirs, their role's and their tier's. The
    caller has checked that ``user`` may see the drill."""
    tier = drills.tier_in(session=session, drill_id=drill_id, user=user)
    mine = Notification.user_id == user.id
    roles = (str(user.role), tier_role(tier))
    for_role = (Notification.user_id.is_(None)) & (Notification.role.in_(roles))
    return select(Notification).where(Notification.drill_id == drill_id, or_(mine, for_role))


def latest(*, session: Session, user: User, drill_id: int, limit: int = 10) -> list[Notification]:
    """Newest first."""
    query = addressed_to(session, user, drill_id).order_by(Notification.id.desc()).limit(limit)
    return list(session.scalars(query))
