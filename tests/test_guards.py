"""Rules that keep each role within its bounds and the records consistent."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select, update

from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.core.clock import wall_instant
from deskdrill.core.errors import DomainError
from deskdrill.db.engine import unit_of_work
from deskdrill.settings import default_caps
from deskdrill.tickets import compensation, schemas, service
from deskdrill.tickets.models import Ticket, parse_ticket_key
from tests.support.factories import Factory

COMPLAINT = {"customer_asks": "a", "actions_taken": "b", "proposed_outcome": "c"}


class TestTiers:
    def test_trainees_work_at_their_tier_or_below(self, factory: Factory) -> None:
        desk = factory.desk(tiers=[Tier.L1, Tier.L2])
        l1, l2 = desk.trainees
        key = desk.receive()["key"]
        l1.ok(f"/tickets/{key}/claim")
        l1.ok(f"/tickets/{key}/escalate", {"tier": "L2", "reason": "r", "complaint": COMPLAINT})
        refused = l1.post(f"/tickets/{key}/claim")
        assert refused.status_code == 403 and "L2" in refused.json()["detail"]
        l2.ok(f"/tickets/{key}/claim")
        l2.ok(
            f"/tickets/{key}/escalate",
            {"tier": "incident_desk", "reason": "r", "complaint": COMPLAINT},
        )
        assert l2.post(f"/tickets/{key}/claim").status_code == 403
        desk.trainer.ok(f"/tickets/{key}/assign", {"assignee": l2.username})
        assert (
            l2.post(f"/tickets/{key}/de-escalate", {"tier": "L1", "reason": "r"}).status_code == 403
        )

    def test_escalation_cannot_hand_to_a_lower_tier_trainee(self, factory: Factory) -> None:
        desk = factory.desk(tiers=[Tier.L1, Tier.L1])
        first, second = desk.trainees
        key = desk.receive()["key"]
        first.ok(f"/tickets/{key}/claim")
        response = first.post(
            f"/tickets/{key}/escalate",
            {"tier": "L2", "reason": "r", "complaint": COMPLAINT, "assignee": second.username},
        )
        assert response.status_code == 422 and response.json()["field"] == "assignee"


class TestWhoMayOpenAndList:
    def test_tickets_come_from_trainers_not_trainees(self, factory: Factory) -> None:
        desk = factory.desk()
        response = desk.trainees[0].post(
            "/tickets",
            {
                "drill": desk.drill_id,
                "channel": "phone",
                "category": "order",
                "subject": "s",
                "body": "b",
            },
        )
        assert response.status_code == 403

    def test_trainers_list_only_their_drills_people(self, factory: Factory) -> None:
        desk, other = factory.desk(), factory.desk()
        names = {u["username"] for u in desk.trainer.get("/users").json()}
        assert {t.username for t in desk.trainees} <= names
        assert not names & {t.username for t in other.trainees}
        admin = factory.user(Role.admin)
        everyone = {u["username"] for u in admin.get("/users").json()}
        assert {t.username for t in other.trainees} <= everyone


class TestOddInput:
    def test_non_ascii_digits_in_a_key_are_not_found(self, factory: Factory) -> None:
        desk = factory.desk()
        desk.receive()
        for key in ("DD-²", "DD-١", "DD-"):
            assert desk.trainer.get(f"/tickets/{key}").status_code == 404

    def test_control_characters_in_search(self, factory: Factory) -> None:
        desk = factory.desk()
        response = desk.trainer.get("/tickets/search", params={"q": "ab\x00cd"})
        assert response.status_code == 422 and response.json()["field"] == "q"


class TestRowAgainstTrail:
    def test_verify_notices_a_row_changed_behind_the_trail(
        self, factory: Factory, session_factory
    ) -> None:
        desk = factory.desk()
        key = desk.receive()["key"]
        with unit_of_work(session_factory) as session:
            session.execute(
                update(Ticket)
                .where(Ticket.id == parse_ticket_key(key))
                .values(status="closed", priority="P4")
            )
        result = desk.trainer.get(f"/tickets/{key}/trail/verify").json()
        assert result["ok"] is False
        assert "priority" in result["reason"] and "status" in result["reason"]


class TestRefundRace:
    def test_two_tickets_cannot_overspend_one_order(
        self, factory: Factory, settings, session_factory
    ) -> None:
        """Two trainers refund 60 of a 100 order at the same moment from two tickets: one
        succeeds, the other is told what is left (PostgreSQL locks the order row; SQLite
        writers are serial)."""
        desk = factory.desk()
        colleague = factory.user(Role.trainer)
        factory.member(desk, colleague)
        keys = [desk.receive(order=desk.refs["order"])["key"] for _ in range(2)]
        start = threading.Barrier(2, timeout=20)
        outcomes: list[str] = []

        def refund(key: str, username: str) -> None:
            if settings.is_sqlite:
                start.wait()  # SQLite: the first writer holds the lock until it commits
            try:
                with unit_of_work(session_factory) as session:
                    actor = session.scalars(select(User).where(User.username == username)).one()
                    ticket = service.get_ticket(session=session, key=key, user=actor)
                    if not settings.is_sqlite:
                        start.wait()  # PostgreSQL: both have read before either writes
                    compensation.compensate(
                        session=session,
                        ticket=ticket,
                        actor=actor,
                        at=wall_instant(),
                        caps=default_caps(),
                        data=schemas.CompensateIn(kind="refund", amount="60.00", reason="race"),
                    )
                outcomes.append("approved")
            except DomainError as exc:
                outcomes.append(f"{exc.status}")

        people = [desk.trainer.username, colleague.username]
        threads = [
            threading.Thread(target=refund, args=pair) for pair in zip(keys, people, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert Counter(outcomes) == {"approved": 1, "422": 1}
        order = desk.trainer.get(f"/drills/{desk.drill_id}/orders/{desk.refs['order']}").json()
        assert (order["refunded_total"], order["refundable"]) == ("60.00", "40.00")
