"""The ticket state machine: which action may happen in which status, and where it leads.

Each action maps the statuses it is allowed from to the status it leads to (``SAME`` keeps
the current one). Anything not in the table is refused with a sentence naming the current
status and what is allowed from it.
"""

from __future__ import annotations

from typing import Final

from deskdrill.core.errors import InvalidTransition
from deskdrill.tickets.enums import Status

SAME: Final = None

_NEW, _OPEN, _PC, _PT = Status.new, Status.open, Status.pending_customer, Status.pending_third_party
_RES, _CLOSED = Status.resolved, Status.closed
_WORKING = (_NEW, _OPEN, _PC, _PT)
_ALL = (*_WORKING, _RES, _CLOSED)


def _keep(*statuses: Status) -> dict[Status, Status | None]:
    return dict.fromkeys(statuses, SAME)


TRANSITIONS: Final[dict[str, dict[Status, Status | None]]] = {
    "receive": _keep(_NEW),
    "claim": _keep(*_WORKING),
    "assign": _keep(*_WORKING),
    "unassign": _keep(*_WORKING),
    "transfer": _keep(*_WORKING),
    "change_priority": _keep(*_WORKING),
    "reply": {_NEW: _OPEN, _OPEN: SAME, _PC: SAME, _PT: SAME},
    "note": _keep(*_WORKING, _RES),
    "contact_third_party": dict.fromkeys(_WORKING, _PT),
    "pend_customer": dict.fromkeys(_WORKING, _PC),
    "pend_third_party": dict.fromkeys(_WORKING, _PT),
    "resume": {_PC: _OPEN, _PT: _OPEN},
    "customer_message": {_NEW: SAME, _OPEN: SAME, _PC: _OPEN, _PT: SAME, _RES: _OPEN},
    "third_party_message": {_NEW: SAME, _OPEN: SAME, _PC: SAME, _PT: _OPEN},
    "escalate": _keep(*_WORKING),
    "de_escalate": _keep(*_WORKING),
    "compensate": _keep(*_WORKING),
    "decide_compensation": _keep(*_WORKING, _RES, _CLOSED),
    "pay_compensation": _keep(*_WORKING, _RES, _CLOSED),
    "order_action": _keep(*_WORKING),
    "record_finding": _keep(*_WORKING),
    "resolve": dict.fromkeys(_WORKING, _RES),
    "close": {_RES: _CLOSED},
    "reopen": {_RES: _OPEN, _CLOSED: _OPEN},
    "tag": _keep(*_ALL),
    "link": _keep(*_ALL),
    "merge": dict.fromkeys((*_WORKING, _RES), _CLOSED),
    "merged_from": _keep(*_WORKING, _RES),
    "reveal_contact": _keep(*_ALL),
    "incident_report": _keep(*_WORKING, _RES),
    "customer_rating": _keep(_RES, _CLOSED),
}

_HINTS: Final[dict[str, str]] = {
    "close": "resolve it first",
    "reply": "reopen it first",
    "resume": "it is not waiting on anyone",
}


# Internal steps that a person never asks for by name.
_INTERNAL = frozenset({"receive", "merged_from", "customer_rating"})
# The actions that move a ticket through its life, named in error messages.
_LIFECYCLE = (
    "reply",
    "contact_third_party",
    "pend_customer",
    "pend_third_party",
    "resume",
    "escalate",
    "resolve",
    "close",
    "reopen",
    "merge",
)


def allowed_from(status: Status) -> list[str]:
    return [
        action
        for action, table in TRANSITIONS.items()
        if status in table and action not in _INTERNAL
    ]


def next_status(action: str, current: str) -> Status:
    """Status after ``action``, or InvalidTransition naming the current status and the options."""
    table = TRANSITIONS[action]
    status = Status(current)
    if status not in table:
        options = ", ".join(a for a in _LIFECYCLE if status in TRANSITIONS[a]) or "nothing"
        hint = f"; {_HINTS[action]}" if action in _HINTS else ""
        if action == "close" and status == Status.closed:
            hint = "; it is closed already"
        raise InvalidTransition(
            f"cannot {action.replace('_', ' ')} a ticket that is {status}{hint}. "
            f"From {status} the next steps are: {options}",
            current_status=str(status),
            allowed=allowed_from(status),
        )
    target = table[status]
    return status if target is SAME else target
