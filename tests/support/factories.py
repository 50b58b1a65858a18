"""Test data made through the public services and API, unique per test."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.accounts.passwords import hash_password
from deskdrill.accounts.service import issue_token
from deskdrill.core.clock import utc_now
from deskdrill.db.engine import unit_of_work

PASSWORD = "correct-horse-battery"
_HASH = hash_password(PASSWORD)  # hashed once: argon2 is slow on purpose
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}{uuid.uuid4().hex[:6]}"


@dataclass
class Agent:
    """A user with a token, making API calls as themselves."""

    client: TestClient
    username: str
    token: str
    role: str
    user_id: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.client.get(
            "/api/v1" + path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Response:
        return self.client.post(
            "/api/v1" + path,
            json=json if json is not None else {},
            headers={**self.headers, **kwargs.pop("headers", {})},
            **kwargs,
        )

    def ok(self, path: str, json: Any = None, status: int = 200, **kwargs: Any) -> Any:
        response = self.post(path, json, **kwargs)
        assert response.status_code == status, response.text
        return response.json()


@dataclass
class Desk:
    """A drill with a trainer, some trainees, and a few parties and orders."""

    drill_id: int
    trainer: Agent
    trainees: list[Agent]
    refs: dict[str, str] = field(default_factory=dict)

    def receive(self, agent: Agent | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "drill": self.drill_id,
            "channel": "chat",
            "category": "order",
            "subject": "Where is my parcel?",
            "body": "It has not arrived yet.",
        }
        body.update(fields)
        return (agent or self.trainer).ok("/tickets", body, status=201)


class Factory:
    def __init__(self, client: TestClient, factory: sessionmaker[Session]) -> None:
        self.client = client
        self.sessions = factory

    def user(
        self, role: Role = Role.trainee, tier: Tier = Tier.L1, username: str | None = None
    ) -> Agent:
        username = username or unique(str(role))
        with unit_of_work(self.sessions) as session:
            user = User(
                username=username,
                display_name=username,
                role=role,
                tier=tier,
                skills_categories=[],
                skills_languages=[],
                max_concurrent=5,
                language="en",
                password_hash=_HASH,
                active=True,
                created_at=utc_now(),
            )
            session.add(user)
            session.flush()
            # Issued by the service directly: logging in costs an argon2 verification.
            token, _ = issue_token(
                session=session, user=user, name="test", now=utc_now(), ttl=timedelta(days=1)
            )
            user_id = user.id
        return Agent(self.client, username, token, str(role), user_id)

    def desk(
        self,
        trainees: int = 2,
        tiers: list[Tier] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Desk:
        trainer = self.user(Role.trainer)
        tiers = tiers or [Tier.L1] * trainees
        people = [self.user(Role.trainee, tier) for tier in tiers]
        drill = trainer.ok(
            "/drills",
            {
                "name": unique("drill-"),
                "title": "Test drill",
                "members": [p.username for p in people],
                "settings": settings or {},
            },
            status=201,
        )
        desk = Desk(drill["id"], trainer, people)
        consumer, merchant, courier = unique("C-"), unique("M-"), unique("R-")
        for ref, kind, name in (
            (consumer, "consumer", "王小明"),
            (merchant, "merchant", "Noodle House"),
            (courier, "courier", "刘骑手"),
        ):
            trainer.ok(
                f"/drills/{drill['id']}/parties",
                {
                    "ref": ref,
                    "kind": kind,
                    "name": name,
                    "phone": "13812341234",
                    "email": "someone@example.com",
                },
                status=201,
            )
        order = unique("FD")
        trainer.ok(
            f"/drills/{drill['id']}/orders",
            {
                "number": order,
                "kind": "goods",
                "status": "delivered",
                "party": consumer,
                "merchant": merchant,
                "courier": courier,
                "amount_paid": "100.00",
                "items": [
                    {"sku": "SHOE", "name": "Sneakers", "price": "80.00"},
                    {"sku": "SOCK", "name": "Socks", "price": "20.00"},
                ],
            },
            status=201,
        )
        desk.refs = {"consumer": consumer, "merchant": merchant, "courier": courier, "order": order}
        return desk

    def member(self, desk: Desk, agent: Agent) -> None:
        response = desk.trainer.post(f"/drills/{desk.drill_id}/members/{agent.username}")
        assert response.status_code == 204, response.text
