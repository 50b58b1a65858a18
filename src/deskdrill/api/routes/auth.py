from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from deskdrill.accounts import service as accounts
from deskdrill.accounts.schemas import TokenCreate, TokenIssued, UserRead
from deskdrill.api.deps import CurrentUser, SessionDep, SettingsDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.core.clock import utc_now

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/token", status_code=201, response_model=TokenIssued)
def issue_token(data: TokenCreate, session: SessionDep, settings: SettingsDep) -> TokenIssued:
    """Exchange a username and password for a bearer token (shown once; stored hashed)."""
    user = accounts.authenticate(session=session, username=data.username, password=data.password)
    secret, token = accounts.issue_token(
        session=session,
        user=user,
        name=data.name,
        now=utc_now(),
        ttl=timedelta(days=settings.token_ttl_days),
    )
    return TokenIssued(
        token=secret,
        token_id=token.id,
        expires_at=token.expires_at,
        user=UserRead.model_validate(user),
    )


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke(token_id: int, user: CurrentUser, session: SessionDep, request: Request) -> None:
    """Revoke one of your own tokens (other server processes stop accepting it within
    DESKDRILL_TOKEN_CACHE_SECONDS)."""
    accounts.revoke_token(session=session, token_id=token_id, now=utc_now(), owner=user)
    session.commit()
    request.app.state.token_cache.clear()
