"""Accounts: users, passwords and API tokens. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskdrill.accounts.models import ApiToken, User
from deskdrill.accounts.passwords import dummy_hash, hash_password, verify_password
from deskdrill.accounts.schemas import UserCreate
from deskdrill.core.errors import Conflict, Invalid, NotFound, Unauthorized

TOKEN_PREFIX = "ddt_"


def create_user(*, session: Session, data: UserCreate, now: datetime) -> User:
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict(f"a user named {data.username!r} already exists", field="username")
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        role=data.role,
        tier=data.tier,
        skills_categories=data.skills_categories,
        skills_languages=data.skills_languages,
        max_concurrent=data.max_concurrent,
        language=data.language,
        password_hash=hash_password(data.password),
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def get_user(*, session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(*, session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        verify_password(dummy_hash(), password)
        raise Unauthorized("wrong username or password")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("wrong username or password")
    return user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(
    *, session: Session, user: User, name: str, now: datetime, ttl: timedelta
) -> tuple[str, ApiToken]:
    """Create a token with 256 random bits; returns the secret (shown once) and its row."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:10],
        token_hash=_digest(secret),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(token)
    session.flush()
    return secret, token


def user_for_token(*, session: Session, secret: str, now: datetime) -> User:
    return token_owner(session=session, secret=secret, now=now)[0]


def token_owner(*, session: Session, secret: str, now: datetime) -> tuple[User, datetime]:
    """The active user a valid token belongs to, and when the token expires."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(secret))
    ).first()
    if row is None:
        raise Unauthorized("unknown API token")
    token, user = row
    if token.revoked_at is not None:
        raise Unauthorized("this API token was revoked")
    if token.expires_at <= now:
        raise Unauthorized("this API token has expired; ask for a new one")
    if not user.active:
        raise Unauthorized("this account is disabled")
    return user, token.expires_at


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_token(
    *, session: Session, token_id: int, now: datetime, owner: User | None = None
) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (owner is not None and token.user_id != owner.id):
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now
    session.flush()
    return token


def revoke_secret(*, session: Session, secret: str, now: datetime) -> None:
    """Revoke the token with this secret, if there is one (logging out of a browser)."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = now
        session.flush()


def set_language(*, session: Session, user_id: int, language: str) -> None:
    """The language a user's pages are shown in (``en`` or ``zh``)."""
    if language not in ("en", "zh"):
        raise Invalid("language is one of: en, zh", field="language")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    user.language = language
    session.flush()
