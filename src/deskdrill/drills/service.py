"""Drills and their membership: who may see which desk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.core.errors import Conflict, Invalid, NotFound
from deskdrill.db.kept import held
from deskdrill.drills.models import Drill, DrillMember
from deskdrill.drills.schemas import DrillCreate


def create_drill(
    *, session: Session, data: DrillCreate, creator: User | None, now: datetime
) -> Drill:
    """A new drill; its creator (a trainer, or nobody from the command line) is a member."""
    if session.scalar(select(Drill.id).where(Drill.name == data.name)) is not None:
        raise Conflict(f"a drill named {data.name!r} already exists", field="name")
    drill = Drill(
        name=data.name,
        title=data.title,
        description=data.description,
        settings=data.settings.model_dump(mode="json"),
        created_by_id=creator.id if creator is not None else None,
        created_at=now,
    )
    session.add(drill)
    session.flush()
    if creator is not None:
        add_member(session=session, drill=drill, user=creator, now=now)
    for username in data.members:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise Invalid(f"no user named {username!r}", field="members")
        add_member(session=session, drill=drill, user=user, now=now)
    return drill


def tier_in(*, session: Session, drill_id: int, user: User) -> str:
    """The tier a person works at in a drill: the roster's, or else their own."""
    if user.id is not None:
        member = held(session, DrillMember, (drill_id, user.id))
        if member is not None and member.tier:
            return member.tier
    return str(user.tier)


def add_member(*, session: Session, drill: Drill, user: User, now: datetime) -> None:
    if session.get(DrillMember, (drill.id, user.id)) is None:
        session.add(DrillMember(drill_id=drill.id, user_id=user.id, added_at=now))
        session.flush()


def member_names(*, session: Session, drill: Drill) -> list[str]:
    return list(
        session.scalars(
            select(User.username)
            .join(DrillMember, DrillMember.user_id == User.id)
            .where(DrillMember.drill_id == drill.id)
            .order_by(User.username)
        )
    )


_MEMBER = (
    select(DrillMember.drill_id)
    .where(
        DrillMember.drill_id == bindparam("drill_id"), DrillMember.user_id == bindparam("user_id")
    )
    .limit(1)
)


def member_names_of(*, session: Session, drill_ids: list[int]) -> list[str]:
    return list(
        session.scalars(
            select(User.username)
            .join(DrillMember, DrillMember.user_id == User.id)
            .where(DrillMember.drill_id.in_(drill_ids))
            .distinct()
        )
    )


def can_see(*, session: Session, drill_id: int, user: User) -> bool:
    """Admins see every drill; everyone else the drills they are members of."""
    if user.role == Role.admin:
        return True
    found = session.execute(_MEMBER, {"drill_id": drill_id, "user_id": user.id}).first()
    return found is not None


def visible_drill_ids(*, session: Session, user: User) -> list[int] | None:
    """Drill ids this user may see, or None for every drill (admins)."""
    if user.role == Role.admin:
        return None
    return list(session.scalars(select(DrillMember.drill_id).where(DrillMember.user_id == user.id)))


def get_drill(*, session: Session, drill_id: int, user: User) -> Drill:
    """A drill the user may see; others answer 404 so their existence is not revealed."""
    drill = session.get(Drill, drill_id)
    if drill is None or not can_see(session=session, drill_id=drill_id, user=user):
        raise NotFound(f"no drill with id {drill_id}")
    return drill


def get_drill_by_name(*, session: Session, name: str) -> Drill | None:
    return session.scalar(select(Drill).where(Drill.name == name))


def all_drills(*, session: Session) -> list[Drill]:
    """Every drill, oldest first (for the command line, which runs as the operator)."""
    return list(session.scalars(select(Drill).order_by(Drill.id)))


def list_drills(*, session: Session, user: User) -> list[Drill]:
    query = select(Drill).order_by(Drill.id)
    ids = visible_drill_ids(session=session, user=user)
    if ids is not None:
        query = query.where(Drill.id.in_(ids))
    return list(session.scalars(query))
