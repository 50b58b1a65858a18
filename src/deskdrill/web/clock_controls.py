"""The trainer's clock controls on the desk: start, pause, resume, speed, jump, finish.
Every open page of the drill hears of the change and refreshes its clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskdrill.accounts.enums import Role
from deskdrill.core.clock import MAX_JUMP, utc_now
from deskdrill.core.errors import Forbidden, Invalid
from deskdrill.db.engine import unit_of_work
from deskdrill.drills import clock
from deskdrill.drills import service as drills
from deskdrill.web.session import FormUser

router = APIRouter(include_in_schema=False)
OPERATIONS = ("start", "pause", "resume", "speed", "jump", "finish")
MAX_JUMP_MINUTES = int(MAX_JUMP.total_seconds() // 60)  # as the API allows


@router.post("/drills/{drill_id}/clock")
def operate(
    request: Request,
    drill_id: int,
    user: FormUser,
    op: Annotated[str, Form()],
    speed: Annotated[str, Form(max_length=16)] = "",
    minutes: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    if op not in OPERATIONS:
        raise Invalid(f"the clock does not know {op!r}: {', '.join(OPERATIONS)}", field="op")
    with unit_of_work(request.app.state.session_factory) as session:
        drill = drills.get_drill(session=session, drill_id=drill_id, user=user)
        if user.role not in (Role.trainer, Role.admin):
            raise Forbidden("only trainers and admins operate a drill's clock")
        wall = utc_now()
        if op == "start":
            clock.start(drill, wall)
        elif op == "pause":
            clock.pause(drill, wall)
        elif op == "resume":
            clock.resume(drill, wall)
        elif op == "finish":
            clock.finish(drill, wall)
        elif op == "speed":
            clock.set_speed(drill, wall, _number(speed, "speed"))
        else:
            jump = _number(minutes, "minutes")
            if not 0 < jump <= MAX_JUMP_MINUTES:
                raise Invalid(f"jump between 1 and {MAX_JUMP_MINUTES} minutes", field="minutes")
            clock.jump(drill, wall, timedelta(minutes=float(jump)))
    # The drill's pages, this one included, hear of it and refresh their clocks.
    return Response(status_code=204)


def _number(value: str, field: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise Invalid(f"{field} must be a number, not {value!r}", field=field) from None
    if not number.is_finite():
        raise Invalid(f"{field} must be a finite number", field=field)
    return number
