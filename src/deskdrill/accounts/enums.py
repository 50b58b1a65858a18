from enum import StrEnum


class Role(StrEnum):
    trainee = "trainee"
    trainer = "trainer"
    qa = "qa"
    admin = "admin"


class Tier(StrEnum):
    """Support tiers, lowest first; escalation moves up this list (incident_desk is special)."""

    L1 = "L1"
    L2 = "L2"
    supervisor = "supervisor"
    incident_desk = "incident_desk"
