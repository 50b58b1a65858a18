"""The drill clock: trainers start, pause, resume, speed up, jump and finish it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from deskdrill.api.deps import CurrentUser, ManagerUser, Now, SessionDep
from deskdrill.api.errors import ERROR_RESPONSES
from deskdrill.core.clock import DrillClock
from deskdrill.drills import clock, service
from deskdrill.drills.schemas import ClockJump, ClockRead, ClockSpeed, ClockStart

router = APIRouter(prefix="/drills/{drill_id}/clock", tags=["clock"], responses=ERROR_RESPONSES)


def _read(value: DrillClock, at: Now) -> ClockRead:
    return ClockRead(
        state=value.state, speed=value.speed, sim_now=value.sim_now(at.wall), wall_now=at.wall
    )


@router.get("", response_model=ClockRead)
def read(drill_id: int, user: CurrentUser, session: SessionDep, at: Now) -> ClockRead:
    """The drill's simulated time now, its state and speed."""
    drill = service.get_drill(session=session, drill_id=drill_id, user=user)
    return _read(clock.clock_of(drill), at)


@router.post("/start", response_model=ClockRead)
def start(
    drill_id: int, data: ClockStart, user: ManagerUser, session: SessionDep, at: Now
) -> ClockRead:
    """Start the clock at a simulated moment (default: now), at a speed (default: 1x)."""
    drill = service.get_drill(session=session, drill_id=drill_id, user=user)
    return _read(clock.start(drill, at.wall, at=data.at, speed=data.speed), at)


@router.post("/pause", response_model=ClockRead)
def pause(drill_id: int, user: ManagerUser, session: SessionDep, at: Now) -> ClockRead:
    drill = service.get_drill(session=session, drill_id=drill_id, user=user)
    return _read(clock.pause(drill, at.wall), at)


@router.post("/resume", response_model=ClockRead)
def resume(drill_id: int, user: ManagerUser, session: SessionDep, at: Now) -> ClockRead:
    drill = service.get_drill(session=session, drill_id=drill_id, user=user)
    return _read(clock.resume(drill, at.wall), at)


@router.post("/speed", response_model=ClockRead)
def speed(
    drill_id: int, data: ClockSpeed, user: ManagerUser, session: SessionDep, at: Now
) -> ClockRead:
    """Change the speed factor (0.1x to 600x); simulated time so far is kept."""
    drill = service.get_drill(session=session, drill_id=drill_id, user=user)
    return _read(clock.set_speed(drill, at.wall, data.speed), at)


@router.post("/jump", response_model=ClockRead)
def jump(
    drill_id: int, data: ClockJump, user: ManagerUser, session: SessionDep, at: Now
) -> ClockRead:
    """Skip simulated time forward."""
    drill = service.get_drill(session=session, drill_id=drill_id, user=user)
    return _read(clock.jump(drill, at.wall, timedelta(seconds=data.seconds)), at)


@router.post("/finish", response_model=ClockRead)
def finish(drill_id: int, user: ManagerUser, session: SessionDep, at: Now) -> ClockRead:
    drill = service.get_drill(session=session, drill_id=drill_id, user=user)
    return _read(clock.finish(drill, at.wall), at)
