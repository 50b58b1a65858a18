"""Who may see and do what: drill membership, trainee boundaries, read-only QA, tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from deskdrill.accounts.enums import Role
from deskdrill.accounts.models import ApiToken
from deskdrill.core.clock import utc_now
from deskdrill.db.engine import unit_of_work
from tests.support.factories import Factory


class TestDrillMembership:
    def test_outsiders_get_404_on_tickets_lists_and_search(self, factory: Factory) -> None:
        desk = factory.desk()
        outsider = factory.desk().trainees[0]
        key = desk.receive(subject="护照丢在车上 passport-zx81")["key"]
        assert outsider.get(f"/tickets/{key}").status_code == 404
        assert outsider.get(f"/tickets/{key}/trail/verify").status_code == 404
        assert outsider.post(f"/tickets/{key}/claim").status_code == 404
        assert outsider.get(f"/drills/{desk.drill_id}").status_code == 404
        assert outsider.get(f"/drills/{desk.drill_id}/tickets").status_code == 404
        assert outsider.get("/tickets/search", params={"q": "passport-zx81"}).json() == []
        assert (
            desk.trainees[0].get("/tickets/search", params={"q": "passport-zx81"}).json()[0]["key"]
            == key
        )
        drills = [d["id"] for d in outsider.get("/drills").json()]
        assert desk.drill_id not in drills

    def test_admin_sees_every_drill(self, factory: Factory) -> None:
        desk = factory.desk()
        admin = factory.user(Role.admin)
        key = desk.receive()["key"]
        assert admin.get(f"/tickets/{key}").status_code == 200


class TestTraineeBoundaries:
    def test_trainee_cannot_change_another_trainees_ticket(self, factory: Factory) -> None:
        desk = factory.desk()
        owner, other = desk.trainees
        key = desk.receive()["key"]
        owner.ok(f"/tickets/{key}/claim")
        for path, body in (
            ("reply", {"body": "hi"}),
            ("notes", {"body": "n"}),
            ("resolve", {"code": "solved", "summary": "s"}),
            ("priority", {"priority": "P1", "reason": "r"}),
            ("unassign", {}),
        ):
            response = other.post(f"/tickets/{key}/{path}", body)
            assert response.status_code == 403, path
            assert "assigned to someone else" in response.json()["detail"]
        assert other.get(f"/tickets/{key}").status_code == 200  # reading is fine

    def test_trainee_must_claim_before_working(self, factory: Factory) -> None:
        desk = factory.desk()
        key = desk.receive()["key"]
        response = desk.trainees[0].post(f"/tickets/{key}/reply", {"body": "hi"})
        assert response.status_code == 403 and "claim" in response.json()["detail"]

    def test_trainer_can_act_on_any_ticket(self, factory: Factory) -> None:
        desk = factory.desk()
        key = desk.receive()["key"]
        desk.trainees[0].ok(f"/tickets/{key}/claim")
        assert desk.trainer.ok(f"/tickets/{key}/notes", {"body": "coaching note"})


class TestReadOnlyQA:
    def test_qa_reads_but_cannot_change(self, factory: Factory) -> None:
        desk = factory.desk()
        qa = factory.user(Role.qa)
        factory.member(desk, qa)
        key = desk.receive()["key"]
        assert qa.get(f"/tickets/{key}").status_code == 200
        assert qa.get(f"/tickets/{key}/trail/verify").json()["ok"] is True
        for path, body in (
            ("claim", {}),
            ("notes", {"body": "n"}),
            ("tags", {"add": ["x"]}),
            ("contact/reveal", {"reason": "audit"}),
        ):
            assert qa.post(f"/tickets/{key}/{path}", body).status_code == 403, path
        response = qa.post(
            "/tickets",
            {
                "drill": desk.drill_id,
                "channel": "chat",
                "category": "order",
                "subject": "s",
                "body": "b",
            },
        )
        assert response.status_code == 403


class TestContactMasking:
    def test_contact_is_masked_until_revealed_with_a_reason(self, factory: Factory) -> None:
        desk = factory.desk()
        agent = desk.trainees[0]
        key = desk.receive(party=desk.refs["consumer"])["key"]
        agent.ok(f"/tickets/{key}/claim")
        party = agent.get(f"/tickets/{key}").json()["party"]
        assert (party["phone"], party["email"], party["masked"]) == (
            "138****1234",
            "s***@example.com",
            True,
        )
        assert agent.post(f"/tickets/{key}/contact/reveal", {}).status_code == 422
        shown = agent.ok(f"/tickets/{key}/contact/reveal", {"reason": "call back about refund"})
        assert (shown["phone"], shown["email"]) == ("13812341234", "someone@example.com")
        event = agent.get(f"/tickets/{key}").json()["trail"][-1]
        assert event["type"] == "contact_revealed" and event["actor"] == agent.username
        assert event["payload"]["reason"] == "call back about refund"
        assert agent.get(f"/tickets/{key}").json()["party"]["phone"] == "13812341234"
        # Someone else still sees it masked: the reveal was theirs alone.
        assert desk.trainer.get(f"/tickets/{key}").json()["party"]["phone"] == "138****1234"


class TestTokens:
    def test_missing_bad_expired_and_revoked_tokens(
        self, factory: Factory, client, session_factory
    ) -> None:
        agent = factory.user()
        assert client.get("/api/v1/auth/me").status_code == 401
        bad = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == "Bearer"
        assert agent.get("/auth/me").json()["username"] == agent.username
        with unit_of_work(session_factory) as session:
            session.execute(
                update(ApiToken)
                .where(ApiToken.prefix == agent.token[:10])
                .values(expires_at=utc_now() - timedelta(seconds=1))
            )
        expired = agent.get("/auth/me")
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    def test_login_and_revoke(self, factory: Factory, client) -> None:
        from tests.support.factories import PASSWORD

        agent = factory.user()
        wrong = client.post(
            "/api/v1/auth/token", json={"username": agent.username, "password": "wrong-password"}
        )
        assert wrong.status_code == 401
        issued = client.post(
            "/api/v1/auth/token", json={"username": agent.username, "password": PASSWORD}
        ).json()
        assert len(issued["token"]) >= 36 and issued["user"]["role"] == "trainee"
        headers = {"Authorization": f"Bearer {issued['token']}"}
        response = client.delete(f"/api/v1/auth/tokens/{issued['token_id']}", headers=headers)
        assert response.status_code == 204
        revoked = client.get("/api/v1/auth/me", headers=headers)
        assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]

    def test_only_managers_create_drills_and_admins_users(self, factory: Factory) -> None:
        trainee, trainer = factory.user(), factory.user(Role.trainer)
        assert trainee.post("/drills", {"name": "x-drill", "title": "x"}).status_code == 403
        new_user = {"username": "made-by-trainer", "password": "long-enough-pw"}
        assert trainer.post("/users", new_user).status_code == 403
        assert trainer.get("/users").status_code == 200
        assert trainee.get("/users").status_code == 403


class TestTokenCache:
    def test_cached_tokens_honour_revocation_and_expiry(
        self, factory: Factory, settings, session_factory
    ) -> None:
        import time

        from fastapi.testclient import TestClient

        from deskdrill.app import create_app

        app = create_app(settings.model_copy(update={"token_cache_seconds": 0.3}))
        with TestClient(app) as cached:
            agent = factory.user()
            headers = {"Authorization": f"Bearer {agent.token}"}
            assert cached.get("/api/v1/auth/me", headers=headers).status_code == 200
            with unit_of_work(session_factory) as session:
                session.execute(
                    update(ApiToken)
                    .where(ApiToken.prefix == agent.token[:10])
                    .values(expires_at=utc_now() - timedelta(seconds=1))
                )
            time.sleep(0.4)  # past the cache's lifetime, the database decides again
            assert cached.get("/api/v1/auth/me", headers=headers).status_code == 401

            other = factory.user()
            headers = {"Authorization": f"Bearer {other.token}"}
            me = cached.get("/api/v1/auth/me", headers=headers)
            assert me.status_code == 200
            with unit_of_work(session_factory, read_only=True) as session:
                token_id = session.scalar(
                    select(ApiToken.id).where(ApiToken.prefix == other.token[:10])
                )
            assert (
                cached.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 204
            )
            assert cached.get("/api/v1/auth/me", headers=headers).status_code == 401
        app.state.engine.dispose()
