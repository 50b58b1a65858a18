from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from deskdrill.accounts.enums import Role, Tier
from deskdrill.db.base import Base, JSONType


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(String(16))
    tier: Mapped[Tier] = mapped_column(String(16), default=Tier.L1)
    skills_categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    skills_languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    max_concurrent: Mapped[int] = mapped_column(default=5)
    language: Mapped[str] = mapped_column(String(8), default="en")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class ApiToken(Base):
    """Bearer tokens: only a SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
