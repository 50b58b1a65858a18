"""Idempotency-Key on ticket receive, following the IETF httpapi draft."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import User
from deskdrill.core.clock import utc_now
from deskdrill.db.engine import unit_of_work
from deskdrill.idempotency import service as idempotency
from deskdrill.tickets.models import Ticket
from tests.support.factories import Desk, Factory


def _body(desk: Desk, subject: str = "快递丢了") -> dict[str, object]:
    return {
        "drill": desk.drill_id,
        "channel": "app",
        "category": "logistics",
        "subject": subject,
        "body": "三天没有物流更新",
    }


def _count(session_factory, drill_id: int) -> int:
    with unit_of_work(session_factory, read_only=True) as session:
        return (
            session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.drill_id == drill_id)
            )
            or 0
        )


class TestIdempotencyKey:
    def test_retry_replays_the_first_response_without_a_duplicate(
        self, factory: Factory, session_factory
    ) -> None:
        desk = factory.desk()
        headers = {"Idempotency-Key": "8e03978e-40d5-43e8-bc93-6894a57f9324"}
        first = desk.trainer.post("/tickets", _body(desk), headers=headers)
        again = desk.trainer.post("/tickets", _body(desk), headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["Location"] == f"/api/v1/tickets/{first.json()['key']}"
        assert _count(session_factory, desk.drill_id) == 1

    def test_error_is_replayed_too(self, factory: Factory, session_factory) -> None:
        desk = factory.desk()
        body = {**_body(desk), "order": "NO-SUCH-ORDER"}
        headers = {"Idempotency-Key": "err-1"}
        first = desk.trainer.post("/tickets", body, headers=headers)
        again = desk.trainer.post("/tickets", body, headers=headers)
        assert first.status_code == again.status_code == 422
        assert first.json() == again.json() and first.json()["field"] == "order"
        assert again.headers["Idempotent-Replayed"] == "true"
        assert _count(session_factory, desk.drill_id) == 0

    def test_same_key_different_body_is_422(self, factory: Factory) -> None:
        desk = factory.desk()
        headers = {"Idempotency-Key": "k-2"}
        assert desk.trainer.post("/tickets", _body(desk), headers=headers).status_code == 201
        other = desk.trainer.post("/tickets", _body(desk, "另一个问题"), headers=headers)
        assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"

    def test_keys_are_scoped_to_the_caller(self, factory: Factory, session_factory) -> None:
        desk = factory.desk()
        headers = {"Idempotency-Key": "shared-key"}
        colleague = factory.user(Role.trainer)
        factory.member(desk, colleague)
        mine = desk.trainer.post("/tickets", _body(desk), headers=headers)
        theirs = colleague.post("/tickets", _body(desk), headers=headers)
        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["key"] != theirs.json()["key"]
        assert "Idempotent-Replayed" not in theirs.headers
        assert _count(session_factory, desk.drill_id) == 2

    def test_retry_while_first_is_in_flight_is_409(self, factory: Factory, session_factory) -> None:
        desk = factory.desk()
        with unit_of_work(session_factory) as session:
            user_id = session.scalar(select(User.id).where(User.username == desk.trainer.username))
            raw = desk.trainer.client.build_request("POST", "/", json=_body(desk)).content
            assert (
                idempotency.begin(
                    session=session,
                    user_id=user_id,
                    key="busy",
                    now=utc_now(),
                    body_fingerprint=idempotency.fingerprint(raw),
                    ttl=timedelta(hours=24),
                    lock=timedelta(minutes=5),
                )
                is None
            )
        response = desk.trainer.post("/tickets", _body(desk), headers={"Idempotency-Key": "busy"})
        assert response.status_code == 409 and "still being processed" in response.json()["detail"]
        assert _count(session_factory, desk.drill_id) == 0

    def test_abandoned_and_expired_keys_can_be_used_again(
        self, factory: Factory, session_factory
    ) -> None:
        desk = factory.desk()
        raw = desk.trainer.client.build_request("POST", "/", json=_body(desk)).content
        with unit_of_work(session_factory) as session:
            user_id = session.scalar(select(User.id).where(User.username == desk.trainer.username))
            long_ago = utc_now() - timedelta(days=2)
            # A first attempt that died two days ago, its key kept for three days...
            idempotency.begin(
                session=session,
                user_id=user_id,
                key="abandoned",
                now=long_ago,
                body_fingerprint=idempotency.fingerprint(raw),
                ttl=timedelta(days=3),
                lock=timedelta(seconds=60),
            )
            # ...and one whose key expired after a day, whatever its body was.
            idempotency.begin(
                session=session,
                user_id=user_id,
                key="expired",
                now=long_ago,
                body_fingerprint="x" * 64,
                ttl=timedelta(days=1),
                lock=timedelta(seconds=60),
            )
        for key in ("abandoned", "expired"):
            response = desk.trainer.post("/tickets", _body(desk), headers={"Idempotency-Key": key})
            assert response.status_code == 201, key
        assert _count(session_factory, desk.drill_id) == 2

    def test_malformed_key(self, factory: Factory) -> None:
        desk = factory.desk()
        response = desk.trainer.post(
            "/tickets", _body(desk), headers={"Idempotency-Key": "x" * 300}
        )
        assert response.status_code == 422 and response.json()["field"] == "Idempotency-Key"


class TestFingerprint:
    def test_same_json_with_other_spacing_or_key_order_is_a_replay(self, factory: Factory) -> None:
        desk = factory.desk()
        headers = {
            **desk.trainer.headers,
            "Idempotency-Key": "spacing",
            "Content-Type": "application/json",
        }
        drill = desk.drill_id
        compact = (
            f'{{"drill":{drill},"channel":"app","category":"logistics","subject":"s","body":"b"}}'
        )
        spaced = (
            '{ "body": "b", "subject": "s", "category": "logistics", "channel": "app", '
            f'"drill": {drill} }}'
        )
        first = desk.trainer.client.post("/api/v1/tickets", content=compact, headers=headers)
        again = desk.trainer.client.post("/api/v1/tickets", content=spaced, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert first.json()["key"] == again.json()["key"]
