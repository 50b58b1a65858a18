"""Login throttling: after repeated failures for one username, or from one address, further
attempts are refused for a while, so passwords cannot be guessed at speed.

Kept in the memory of each server process (a guesser spread over several processes gets
at most that many times the allowance); a success clears the username's record.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from deskdrill.core.errors import DomainError

MAX_KEYS = 50_000  # bounded memory under a flood of made-up usernames


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"too many failed logins; try again in {minutes} minute(s)", retry_after=retry_after
        )
        self.retry_after = retry_after


@dataclass
class LoginThrottle:
    """At most ``limit`` failures per key within ``window`` seconds."""

    limit: int = 5
    window: float = 15 * 60
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def keys(username: str, address: str | None) -> list[str]:
        # Per address a little more room: colleagues behind one address mistype too.
        found = [f"user:{username.strip().lower()}"]
        if address:
            found.append(f"addr:{address}")
        return found

    def check(self, username: str, address: str | None, now: float | None = None) -> None:
        """Raise TooManyAttempts while the username or the address is locked out."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in self.keys(username, address):
                limit = self.limit if key.startswith("user:") else self.limit * 4
                recent = self._recent(key, now)
                if recent is not None and len(recent) >= limit:
                    raise TooManyAttempts(int(recent[0] + self.window - now) + 1)

    def failed(self, username: str, address: str | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._prune(now)
            for key in self.keys(username, address):
                recent = self._recent(key, now)
                if recent is None:
                    recent = self._failures[key] = deque()
                recent.append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self.keys(username, None)[0], None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        recent = self._failures.get(key)
        if recent is None:
            return None
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            recent = self._recent(key, now)
            if not recent:
                del self._failures[key]
        if len(self._failures) >= MAX_KEYS:  # all of them recent: forget the oldest
            for key in list(self._failures)[: MAX_KEYS // 2]:
                del self._failures[key]
