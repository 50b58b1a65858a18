from __future__ import annotations

from fastapi import APIRouter

from deskdrill.accounts import service as accounts
from deskdrill.accounts.schemas import UserCreate, UserRead
from deskdrill.api.deps import AdminUser, ManagerUser, SessionDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.core.clock import utc_now

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[UserRead])
def list_users(_user: ManagerUser, session: SessionDep) -> list[UserRead]:
    return [UserRead.model_validate(u) for u in accounts.list_users(session=session)]


@router.post("", status_code=201, response_model=UserRead)
def create_user(data: UserCreate, _user: AdminUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(accounts.create_user(session=session, data=data, now=utc_now()))
