"""The refusals PostgreSQL makes to break a tie between transactions waiting on each
other: the refused side holds locks the other waits for, so only its rollback lets both
go on (a statement's savepoint does not give up the locks taken before it)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# deadlock_detected, serialization_failure
_SQLSTATES = frozenset({"40P01", "40001"})


def lost(error: BaseException) -> bool:
    """Whether ``error`` is this transaction refused to break a tie with another."""
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in _SQLSTATES
