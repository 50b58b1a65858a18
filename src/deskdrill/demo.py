"""``deskdrill demo``: demo accounts and a drill with realistic cases (idempotent)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskdrill.accounts import service as accounts
from deskdrill.accounts.enums import Role, Tier
from deskdrill.accounts.models import User
from deskdrill.accounts.schemas import UserCreate
from deskdrill.core.clock import utc_now, wall_instant
from deskdrill.customers import service as customers
from deskdrill.customers.schemas import OrderCreate, PartyCreate
from deskdrill.demo_data import ORDERS, PARTIES, TICKETS
from deskdrill.drills import clock
from deskdrill.drills import service as drills
from deskdrill.drills.schemas import DrillCreate
from deskdrill.scenarios import library
from deskdrill.simulation import setup
from deskdrill.tickets import compensation, intake, schemas, service, workflow

DEMO_DRILL = "demo"
# A live drill from the shipped library, started when the demo is loaded: tickets arrive
# as its clock reaches them, and the built-in L2, supervisor and incident-desk bots work
# what is escalated to them.
SHIFT_DRILL = "first-shift"
SHIFT_SCENARIO = "new-hire-first-shift"
SHIFT_ROSTER = "trainee1,trainee2,trainee3:L2"
DEMO_PASSWORDS = {
    "admin": "admin-demo-2026",
    "trainer": "trainer-demo-2026",
    "qa": "qa-demo-2026",
    "trainee1": "trainee1-demo-2026",
    "trainee2": "trainee2-demo-2026",
    "trainee3": "trainee3-demo-2026",
}
_ACCOUNTS = [
    ("admin", "管理员 Admin", Role.admin, Tier.supervisor, "zh"),
    ("trainer", "培训师 Grace", Role.trainer, Tier.supervisor, "zh"),
    ("qa", "质检 Quinn", Role.qa, Tier.L2, "en"),
    ("trainee1", "学员 小李", Role.trainee, Tier.L1, "zh"),
    ("trainee2", "Trainee Sam", Role.trainee, Tier.L1, "en"),
    ("trainee3", "学员 小周", Role.trainee, Tier.L2, "zh"),
]


def _user(session: Session, username: str) -> User:
    return accounts.get_user(session=session, username=username)


def load_demo(session: Session) -> bool:
    """Create the demo accounts and drill; returns False when they already exist."""
    at = wall_instant()
    for username, name, role, tier, language in _ACCOUNTS:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            accounts.create_user(
                session=session,
                now=at.sim,
                data=UserCreate(
                    username=username,
                    display_name=name,
                    password=DEMO_PASSWORDS[username],
                    role=role,
                    tier=tier,
                    language=language,
                ),
            )
    if drills.get_drill_by_name(session=session, name=DEMO_DRILL) is not None:
        _first_shift(session)
        return False
    drill = drills.create_drill(
        session=session,
        creator=_user(session, "trainer"),
        now=at.sim,
        data=DrillCreate(
            name=DEMO_DRILL,
            title="演示演练 Demo drill",
            description="电商、外卖与网约车的混合客服队列 / A mixed "
            "queue of e-commerce, food-delivery and ride-hailing cases",
            members=["qa", "trainee1", "trainee2", "trainee3"],
        ),
    )
    for party in PARTIES:
        customers.create_party(
            session=session, drill_id=drill.id, now=at.sim, data=PartyCreate(**party)
        )
    for order in ORDERS:
        customers.create_order(
            session=session, drill_id=drill.id, now=at.sim, data=OrderCreate(**order)
        )
    trainer = _user(session, "trainer")
    for case in TICKETS:
        fields = {k: v for k, v in case.items() if k != "steps"}
        ticket = intake.receive(
            session=session,
            actor=trainer,
            at=wall_instant(),
            data=schemas.TicketReceive(drill=drill.id, **fields),
        )
        for step in case.get("steps", []):
            _step(session, ticket, step)
    session.flush()
    _first_shift(session)
    return True


def _step(session: Session, ticket: Any, step: tuple[Any, ...]) -> None:
    action, username, *args = step
    actor = _user(session, username)
    common = {"session": session, "ticket": ticket, "actor": actor, "at": wall_instant()}
    if action == "claim":
        service.claim(**common)
    elif action == "reply":
        service.reply(**common, data=schemas.MessageIn(body=args[0]))
    elif action == "contact":
        service.contact_third_party(
            **common, data=schemas.ThirdPartyContactIn(party=args[0], body=args[1])
        )
    elif action == "escalate":
        workflow.escalate(
            **common,
            data=schemas.EscalateIn(
                tier="incident_desk",
                reason="乘客人身安全风险，按重大事件流程上报",
                complaint=schemas.ComplaintRecord(
                    customer_asks="处理司机疲劳驾驶，确认乘客安全",
                    actions_taken="已安抚乘客并确认其已安全下车",
                    proposed_outcome="安全团队回访乘客，暂停司机接单并调查",
                ),
            ),
        )
    elif action == "change_address":
        compensation.order_action(
            **common,
            data=schemas.OrderActionIn(
                kind="change_address", reason="客户填错地址", new_address=args[0]
            ),
        )
    elif action == "resolve":
        workflow.resolve(**common, data=schemas.ResolveIn(code=args[0], summary=args[1]))
    elif action == "close":
        workflow.close(**common)


def _first_shift(session: Session) -> None:
    if drills.get_drill_by_name(session=session, name=SHIFT_DRILL) is not None:
        return
    path, scenario = library.find(SHIFT_SCENARIO)
    drill = setup.create(
        session=session,
        scenario=scenario,
        digest=setup.source_digest(path.read_bytes()),
        name=SHIFT_DRILL,
        roster=setup.parse_roster(SHIFT_ROSTER),
        creator=_user(session, "trainer"),
        now=utc_now(),
    )
    clock.start(drill, utc_now())
    session.flush()
