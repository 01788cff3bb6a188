"""Browser sessions: a random id in an HttpOnly, SameSite=Strict cookie, and a CSRF token the page must echo in a
header on every request that is not a plain page load. Kept in the worker's memory: a restart logs everyone out.

Also the login throttle: five refused logins for one name or one address within five minutes lock it for five.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from crimelink.access.principals import Principal

__all__ = ["Session", "SessionStore", "LoginThrottle", "COOKIE"]

COOKIE = "crimelink_session"


@dataclass
class Session:
    id: str
    principal: Principal
    csrf: str
    expires: float


class SessionStore:
    def __init__(self, lifetime_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, principal: Principal) -> Session:
        session = Session(secrets.token_urlsafe(32), principal, secrets.token_urlsafe(32), self._clock() + self.lifetime)
        with self._lock:
            self._expire()
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session, its lifetime renewed; None when unknown or expired."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires < self._clock():
                del self._sessions[session_id]
                return None
            session.expires = self._clock() + self.lifetime
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _expire(self) -> None:
        now = self._clock()
        for key in [key for key, session in self._sessions.items() if session.expires < now]:
            del self._sessions[key]


class LoginThrottle:
    def __init__(self, attempts: int = 5, window_seconds: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def locked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= self.attempts for key in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] < now - self.window:
            failures.popleft()
        return failures
