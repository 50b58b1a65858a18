"""A session's journal of its own writes: notes in order, taken back by the rollbacks that
undo the writes (of a savepoint, nested or not, or of the whole transaction); and writes
put off until a flush, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from deskdrill.db.deferred import Deferred
from deskdrill.db.engine import make_engine
from deskdrill.db.journal import Journal
from deskdrill.settings import Settings
from deskdrill.tickets.conversation import Conversation, Said, messages_of
from deskdrill.tickets.models import Ticket
from deskdrill.tickets.recording import Trail


class Notes(Journal):
    key = "test.journal"


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings)
    with Session(engine) as session:
        try:
            yield session
        finally:
            session.rollback()
    engine.dispose()


class Boom(Exception):
    pass


def test_a_session_without_a_journal_notes_nothing(session: Session) -> None:
    Notes.note(session, [1, 2])  # nothing to note in, and no error
    with Notes.keeping(session) as kept:
        with pytest.raises(RuntimeError, match="already keeps"), Notes.keeping(session):
            pass
        Notes.note(session, [3])
        assert kept.entries == [3]
    assert Notes.of(session) is None
    Notes.note(session, [4])
    assert kept.entries == [3]  # closed: no longer noted


def test_notes_and_marks(session: Session) -> None:
    with Notes.keeping(session) as kept:
        Notes.note(session, [1])
        mark = len(kept)
        Notes.note(session, (i for i in (2, 3)))
        assert kept.since(mark) == [2, 3] and kept.since(len(kept)) == []


def test_a_savepoint_rolled_back_takes_back_its_notes(session: Session) -> None:
    with Notes.keeping(session) as kept:
        session.execute(text("SELECT 1"))
        Notes.note(session, ["before"])
        with session.begin_nested():
            Notes.note(session, ["kept"])
        with pytest.raises(Boom), session.begin_nested():
            Notes.note(session, ["undone"])
            with session.begin_nested():
                Notes.note(session, ["inner"])
            raise Boom
        with session.begin_nested():
            Notes.note(session, ["outer"])
            with pytest.raises(Boom), session.begin_nested():
                Notes.note(session, ["inner undone"])
                raise Boom
        assert kept.entries == ["before", "kept", "outer"]


def test_a_rollback_takes_back_the_notes_since_the_last_commit(session: Session) -> None:
    with Notes.keeping(session) as kept:
        session.execute(text("SELECT 1"))
        Notes.note(session, ["committed"])
        session.commit()
        session.execute(text("SELECT 1"))
        Notes.note(session, ["rolled back"])
        session.rollback()
        assert kept.entries == ["committed"]
        session.execute(text("SELECT 1"))  # a new transaction, begun on demand
        Notes.note(session, ["next"])
        session.rollback()
        assert kept.entries == ["committed"]


def test_a_journal_begun_in_a_transaction(session: Session) -> None:
    """Entries noted in a transaction open before the journal began go with it."""
    session.execute(text("SELECT 1"))
    savepoint = session.begin_nested()
    with Notes.keeping(session) as kept:
        Notes.note(session, ["in the savepoint"])
        savepoint.rollback()
        assert kept.entries == []
        Notes.note(session, ["in the transaction"])
        session.rollback()
        assert kept.entries == []


def test_drained_entries_keep_the_marks(session: Session) -> None:
    """Entries handed on leave the marks as they were; a rollback after a drain takes back
    only what was noted since, of what is still held."""
    with Notes.keeping(session) as kept:
        session.execute(text("SELECT 1"))
        Notes.note(session, ["a", "b"])
        assert kept.drain() == ["a", "b"] and len(kept) == 2
        Notes.note(session, ["c"])
        assert kept.since(1) == ["c"] and kept.since(3) == []
        session.rollback()
        assert kept.entries == [] and len(kept) == 2


def test_deferred_writes_wait_for_the_flush_and_go_with_a_rollback(session: Session) -> None:
    session.execute(text("CREATE TEMPORARY TABLE put_off (n INTEGER)"))
    insert = text("INSERT INTO put_off (n) VALUES (:n)")
    count = text("SELECT count(*) FROM put_off")
    Deferred.write(session, insert, {"n": 0})  # not kept: written at once
    assert session.scalar(count) == 1
    with Deferred.keeping(session):
        for n in (1, 2):
            Deferred.write(session, insert, {"n": n})
        assert session.scalar(count) == 1
        Deferred.flush(session)
        assert session.scalar(count) == 3
        with pytest.raises(Boom), session.begin_nested():
            Deferred.write(session, insert, {"n": 3})
            raise Boom
        Deferred.flush(session)
        assert session.scalars(text("SELECT n FROM put_off ORDER BY n")).all() == [0, 1, 2]
        # Put off before a savepoint and sent inside it (a flush there, or a read): the
        # savepoint's rollback does not take it away.
        Deferred.write(session, insert, {"n": 4})
        with pytest.raises(Boom), session.begin_nested():
            Deferred.write(session, insert, {"n": 5})
            Deferred.flush(session)
            raise Boom
        Deferred.flush(session)
        assert session.scalars(text("SELECT n FROM put_off ORDER BY n")).all() == [0, 1, 2, 4]


def test_deferred_updates_follow_the_inserts_and_the_rest_lands_when_the_block_ends(
    session: Session,
) -> None:
    """An update put off may be of a row inserted since the last flush: it is sent after
    the inserts, whichever was written first. What is left when the block ends is sent
    then; a block that fails sends nothing."""
    session.execute(text("CREATE TEMPORARY TABLE put_off (n INTEGER, done INTEGER)"))
    insert = text("INSERT INTO put_off (n, done) VALUES (:n, 0)")
    done = text("UPDATE put_off SET done = 1 WHERE n = :n")
    rows = text("SELECT n, done FROM put_off ORDER BY n")
    with Deferred.keeping(session):
        Deferred.write(session, done, {"n": 1})  # its row is inserted after, unflushed
        Deferred.write(session, insert, {"n": 1})
        Deferred.write(session, insert, {"n": 2})
        assert session.execute(rows).all() == []
    assert [tuple(r) for r in session.execute(rows)] == [(1, 1), (2, 0)]
    with pytest.raises(Boom), Deferred.keeping(session):
        Deferred.write(session, insert, {"n": 3})
        raise Boom
    assert [n for n, _ in session.execute(rows)] == [1, 2]


def test_the_trail_knows_a_tickets_event_types_while_it_noted_them_all(session: Session) -> None:
    """The run asks a ticket's event types of its trail journal instead of reading them:
    only when the journal noted every event the ticket has, and never one rolled back."""
    ticket = Ticket(id=7, event_count=2)
    with Trail.keeping(session) as trail:
        assert Trail.types_of(session, ticket) is None  # nothing noted of it
        Trail.note(session, [(7, "receive"), (8, "receive"), (7, "claim")])
        mark = len(trail)
        assert Trail.types_of(session, ticket) == {"receive", "claim"}
        with pytest.raises(Boom), session.begin_nested():
            Trail.note(session, [(7, "reply"), (9, "receive")])
            raise Boom
        assert Trail.types_of(session, ticket) == {"receive", "claim"}
        assert trail.tickets_since(mark) == set()
        assert 9 not in trail.by
        Trail.note(session, [(8, "reply")])
        assert trail.tickets_since(mark) == {8}
        ticket.event_count = 3  # an event the journal did not note: read the trail
        assert Trail.types_of(session, ticket) is None
    assert Trail.types_of(session, Ticket(id=8, event_count=2)) is None  # no journal kept


def test_a_kept_conversation_answers_for_the_tickets_it_wrote_from_the_start(
    session: Session,
) -> None:
    """Messages of a ticket whose first message the session wrote come from memory, in
    order, without the one a rollback took back; any other ticket is read from the table."""
    at = datetime(2026, 5, 1, 9, tzinfo=UTC)
    first = Said(7, "customer", "where is my order?", 1, None, at)
    answer = Said(7, "reply", "您好，我来查一下", 2, None, at)
    with Conversation.keeping(session) as kept:
        kept.add([first, Said(-8, "reply", "late", 4, None, at), answer])
        with pytest.raises(Boom), session.begin_nested():
            Conversation.note(session, [Said(7, "reply", "undone", 3, None, at)])
            raise Boom
        assert messages_of(session, 7) == [first, answer]
        assert messages_of(session, -8) == []  # its first message is not noted: the table
