"""Journals: what a session noted of its own writes, in order (see ``kept``).

A rollback, of a savepoint or of the whole transaction, takes back the entries noted
since that transaction began, as it takes back the rows.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from deskdrill.db.kept import Kept


class Journal(Kept):
    """Entries in the order they were noted. Its length (counting entries handed on by
    ``drain``) is a mark; ``since(mark)`` gives what was noted after it."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.entries: list[Any] = []
        self.drained = 0  # entries handed on, no longer held
        # How long the journal was when each open transaction began. A transaction ends
        # before the session reports it rolled back, so entries go with the transaction.
        self._began: WeakKeyDictionary[SessionTransaction, int] = WeakKeyDictionary()
        event.listen(session, "after_transaction_create", self._begin)
        event.listen(session, "after_soft_rollback", self._undo)
        open_ = session.get_nested_transaction() or session.get_transaction()
        while open_ is not None:  # begun before the journal: undone, they take back all
            self._began[open_] = 0
            open_ = open_.parent

    def close(self) -> None:
        event.remove(self.session, "after_transaction_create", self._begin)
        event.remove(self.session, "after_soft_rollback", self._undo)

    @classmethod
    def note(cls, session: Session, entries: Iterable[Any]) -> None:
        """Add ``entries`` to the session's journal, if it keeps one."""
        journal = cls.of(session)
        if journal is not None:
            journal.add(entries)

    def add(self, entries: Iterable[Any]) -> None:
        self.entries.extend(entries)

    def forget(self, entries: list[Any]) -> None:
        """``entries`` were taken back by a rollback (a subclass that indexes them
        unindexes them here)."""

    def __len__(self) -> int:
        return self.drained + len(self.entries)

    def since(self, mark: int) -> list[Any]:
        return self.entries[max(mark - self.drained, 0) :]

    def drain(self) -> list[Any]:
        """Hand on every entry held (a rollback then has none of them to take back)."""
        entries, self.entries = self.entries, []
        self.drained += len(entries)
        return entries

    def _begin(self, _session: Session, transaction: SessionTransaction) -> None:
        self._began[transaction] = len(self)

    def _undo(self, _session: Session, transaction: SessionTransaction) -> None:
        began = self._began.pop(transaction, None)
        if began is not None:
            start = max(began - self.drained, 0)
            undone = self.entries[start:]
            del self.entries[start:]
            if undone:
                self.forget(undone)


class Indexed(Journal):
    """A journal that also files its entries by a key (``key_of``): each key's entries in
    the order noted, without those a rollback took back."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.by: dict[Hashable, list[Any]] = {}

    @staticmethod
    def key_of(entry: Any) -> Hashable:
        raise NotImplementedError

    def add(self, entries: Iterable[Any]) -> None:
        for entry in entries:
            self.entries.append(entry)
            self.by.setdefault(self.key_of(entry), []).append(entry)

    def forget(self, entries: list[Any]) -> None:
        for entry in reversed(entries):
            key = self.key_of(entry)
            held = self.by[key]
            held.pop()
            if not held:
                del self.by[key]
