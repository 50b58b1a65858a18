"""Operating a drill's clock: start, pause, resume, speed, jump, finish; and the moment of
an action in a drill, which every ticket operation is stamped with."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskdrill.core.clock import ClockState, DrillClock, Instant
from deskdrill.core.errors import Conflict
from deskdrill.db.savepoints import flush_before_reading
from deskdrill.drills.models import Drill


def clock_of(drill: Drill) -> DrillClock:
    return DrillClock(
        state=ClockState(drill.clock_state),
        speed=Decimal(drill.clock_speed),
        anchor_sim=drill.clock_anchor_sim,
        anchor_wall=drill.clock_anchor_wall,
    )


def _store(drill: Drill, clock: DrillClock) -> DrillClock:
    drill.clock_state = clock.state.value
    drill.clock_speed = clock.speed
    drill.clock_anchor_sim = clock.anchor_sim
    drill.clock_anchor_wall = clock.anchor_wall
    return clock


_CLOCK = select(
    Drill.clock_state, Drill.clock_speed, Drill.clock_anchor_sim, Drill.clock_anchor_wall
).where(Drill.id == bindparam("drill"))


def instant(session: Session, drill_id: int, wall: datetime, *, acting: bool = False) -> Instant:
    """The simulated and wall time of an action in this drill, read without loading it
    (on the connection: every lazy engine check starts with this read). Sessions do not
    autoflush (``db.engine.make_sessionmaker``), so this sees what a session read would.

    ``acting``: for a person's action on the drill's tickets, which a finished drill
    refuses: its trail, and so its score and debrief, stay as they were when it ended."""
    flush_before_reading(session, ("drills",))
    row = session.connection().execute(_CLOCK, {"drill": drill_id}).one()
    clock = DrillClock(ClockState(row[0]), Decimal(row[1]), row[2], row[3])
    if acting and clock.state == ClockState.finished:
        raise Conflict("the drill is finished: its tickets stay as they were when it ended")
    return clock.instant(wall)


def start(
    drill: Drill, wall: datetime, *, at: datetime | None = None, speed: Decimal | None = None
) -> DrillClock:
    return _store(drill, clock_of(drill).start(wall, at=at, speed=speed))


def pause(drill: Drill, wall: datetime) -> DrillClock:
    return _store(drill, clock_of(drill).pause(wall))


def resume(drill: Drill, wall: datetime) -> DrillClock:
    return _store(drill, clock_of(drill).resume(wall))


def set_speed(drill: Drill, wall: datetime, speed: Decimal) -> DrillClock:
    return _store(drill, clock_of(drill).with_speed(wall, speed))


def jump(drill: Drill, wall: datetime, by: timedelta) -> DrillClock:
    return _store(drill, clock_of(drill).jump(wall, by))


def finish(drill: Drill, wall: datetime) -> DrillClock:
    return _store(drill, clock_of(drill).finish(wall))
