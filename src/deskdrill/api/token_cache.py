"""Recently checked API tokens, so that an agent's stream of requests skips the lookup.

An entry lives ``ttl`` seconds at most and never past the token's own expiry. Revoking a
token through this process clears the cache at once; other server processes notice within
``ttl`` seconds (5 by default, DESKDRILL_TOKEN_CACHE_SECONDS; 0 turns caching off).
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime

from deskdrill.accounts.models import User
from deskdrill.core.clock import utc_now

MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, datetime, User]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def get(self, secret: str) -> User | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(self._key(secret))
        if entry is None:
            return None
        until, expires_at, user = entry
        if time.monotonic() > until or utc_now() >= expires_at:
            return None
        return user

    def put(self, secret: str, user: User, expires_at: datetime) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[self._key(secret)] = (time.monotonic() + self.ttl, expires_at, user)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
