"""Login throttling: after repeated failures, further attempts are refused for a while, so
passwords cannot be guessed at speed.

Three allowances, each over ``window`` seconds: one username from one address (the person
who mistypes), one address over all usernames (one guesser trying many accounts), and one
username over all addresses (many guessers trying one account, set higher so that a
stranger cannot easily lock someone out). An attempt is counted when it begins, under the
lock, so parallel guesses cannot all slip past the check; a success takes its count back.

Kept in the memory of each server process: a guesser spread over several processes gets
at most that many times the allowance.
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
    limit: int = 5  # one username from one address
    per_address: int = 20
    per_username: int = 50
    window: float = 15 * 60
    _attempts: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        name = username.strip().lower()
        where = address or "-"
        return [
            (f"pair:{name}|{where}", self.limit),
            (f"addr:{where}", self.per_address),
            (f"user:{name}", self.per_username),
        ]

    def begin(self, username: str, address: str | None, now: float | None = None) -> None:
        """Count an attempt, or raise TooManyAttempts if one of the allowances is spent."""
        now = time.monotonic() if now is None else now
        with self._lock:
            keys = self._keys(username, address)
            for key, limit in keys:
                recent = self._recent(key, now)
                if len(recent) >= limit:
                    raise TooManyAttempts(int(recent[0] + self.window - now) + 1)
            if len(self._attempts) >= MAX_KEYS:
                self._prune(now)
            for key, _ in keys:
                self._attempts.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, address: str | None) -> None:
        """The attempt was the right password: it does not count, nor do the pair's earlier
        failures."""
        with self._lock:
            pair, address_key, user_key = (k for k, _ in self._keys(username, address))
            self._attempts.pop(pair, None)
            for key in (address_key, user_key):
                recent = self._attempts.get(key)
                if recent:
                    recent.pop()

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._attempts.get(key)
        if recent is None:
            return deque()
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent

    def _prune(self, now: float) -> None:
        for key in list(self._attempts):
            if not self._recent(key, now):
                del self._attempts[key]
        if len(self._attempts) >= MAX_KEYS:  # all of them recent: forget the oldest half
            for key in list(self._attempts)[: MAX_KEYS // 2]:
                del self._attempts[key]
