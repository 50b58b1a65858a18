from __future__ import annotations

from fastapi import APIRouter

from deskdrill.accounts import service as accounts
from deskdrill.accounts.schemas import UserCreate, UserRead
from deskdrill.api.deps import AdminUser, ManagerUser, SessionDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.core.clock import utc_now
from deskdrill.drills import service as drills

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[UserRead])
def list_users(user: ManagerUser, session: SessionDep) -> list[UserRead]:
    """Admins see every account; trainers the members of their own drills."""
    users = accounts.list_users(session=session)
    visible = drills.visible_drill_ids(session=session, user=user)
    if visible is not None:
        names = set(drills.member_names_of(session=session, drill_ids=visible))
        users = [u for u in users if u.username in names]
    return [UserRead.model_validate(u) for u in users]


@router.post("", status_code=201, response_model=UserRead)
def create_user(data: UserCreate, _user: AdminUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(accounts.create_user(session=session, data=data, now=utc_now()))
