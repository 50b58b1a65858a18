from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from deskdrill.accounts.enums import Role, Tier


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64, pattern=r"^[a-zA-Z0-9_.-]+$")
    display_name: str | None = Field(default=None, max_length=128)
    password: str = Field(min_length=8, max_length=256)
    role: Role = Role.trainee
    tier: Tier = Tier.L1
    skills_categories: list[str] = Field(default_factory=list)
    skills_languages: list[str] = Field(default_factory=list)
    max_concurrent: int = Field(default=5, ge=1, le=100)
    language: str = Field(default="en", pattern=r"^(en|zh)$")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    display_name: str
    role: Role
    tier: Tier
    skills_categories: list[str]
    skills_languages: list[str]
    max_concurrent: int
    language: str
    active: bool


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    password: str
    name: str = Field(default="api", max_length=64)


class TokenIssued(BaseModel):
    token: str
    token_id: int
    expires_at: datetime
    user: UserRead
