"""The user registry: one JSON file (mode 0600) of users, their role and scope, and scrypt hashes of their tokens and
passwords. Nothing in it can be used to log in: a token or password is printed once, when it is made, and never
stored.

A token reads ``crl_<id>_<secret>``: the id finds the one hash to check (no scan of every user's hashes), the secret
(256 random bits) is what is checked. The worker re-reads the file when it changes, so ``crimelink users revoke``
takes effect on the next request, without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from crimelink.access.principals import Principal, Role
from crimelink.errors import AccessError

__all__ = ["UserRegistry", "User", "hash_secret", "verify_secret"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_TOKEN = re.compile(r"^crl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
# scrypt at n=2**14, r=8: 16 MiB and about 50 ms per check (RFC 7914's interactive setting).
_N, _R, _P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest + "==")
        got = hashlib.scrypt(secret.encode(), salt=base64.urlsafe_b64decode(salt + "=="), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected), maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_secret(secrets.token_urlsafe(16))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class User:
    name: str
    role: Role
    forces: list[str] = field(default_factory=list)
    retailers: list[str] = field(default_factory=list)
    created: str = ""
    revoked: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    """Token id -> scrypt hash of its secret."""
    password: str | None = None
    """scrypt hash of the password, for the browser's login page."""

    def principal(self, via: str) -> Principal:
        return Principal(self.name, self.role, tuple(self.forces), tuple(self.retailers), via)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "forces": self.forces, "retailers": self.retailers,
                "created": self.created, "revoked": self.revoked, "tokens": self.tokens, "password": self.password}


class UserRegistry:
    """Users in ``path``; safe to share between threads (the worker checks tokens off its event loop)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._seen: tuple[int, int] | None = None
        self._verified: dict[str, tuple[tuple[int, int] | None, str]] = {}

    # --- reading ---------------------------------------------------------------------------------

    def users(self) -> list[User]:
        with self._lock:
            self._reload()
            return sorted(self._users.values(), key=lambda user: user.name)

    def get(self, name: str) -> User | None:
        with self._lock:
            self._reload()
            return self._users.get(name)

    def authenticate_token(self, token: str) -> Principal | None:
        """The principal a bearer token belongs to, or None (unknown, revoked, malformed)."""
        match = _TOKEN.match(token.strip())
        if match is None:
            return None
        token_id, secret = match.groups()
        fingerprint = hashlib.sha256(token.strip().encode()).hexdigest()
        with self._lock:
            self._reload()
            user = next((u for u in self._users.values() if token_id in u.tokens and not u.revoked), None)
            if user is None:
                return None
            cached = self._verified.get(fingerprint)
            if cached is not None and cached == (self._seen, user.name):
                return user.principal("token")
            stored = user.tokens[token_id]
        if not verify_secret(secret, stored):
            return None
        with self._lock:
            self._verified[fingerprint] = (self._seen, user.name)
        return user.principal("token")

    def authenticate_password(self, name: str, password: str) -> Principal | None:
        """The principal for a name and its password, or for a name and one of its tokens."""
        user = self.get(name)
        if user is None or user.revoked:
            verify_secret(password, _dummy_hash())  # the same cost whether or not the name exists
            return None
        if user.password and verify_secret(password, user.password):
            return user.principal("password")
        by_token = self.authenticate_token(password)
        if by_token is not None and by_token.name == name:
            return user.principal("password")
        return None

    def _reload(self) -> None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._users, self._seen = {}, None
            return
        seen = (status.st_mtime_ns, status.st_size)
        if seen == self._seen:
            return
        try:
            document = json.loads(self.path.read_text())
            users = {entry["name"]: User(name=entry["name"], role=Role(entry["role"]),
                                         forces=list(entry.get("forces", [])),
                                         retailers=list(entry.get("retailers", [])), created=entry.get("created", ""),
                                         revoked=entry.get("revoked"), tokens=dict(entry.get("tokens", {})),
                                         password=entry.get("password"))
                     for entry in document.get("users", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            # Fail closed: nobody is let in on a registry that cannot be read (a hand edit gone wrong).
            self._users, self._seen = {}, None
            raise AccessError(f"the users file {self.path} cannot be read ({error!r}): nobody can log in until it "
                              "is fixed; 'crimelink users list' shows the same error") from None
        self._users = users
        self._seen = seen
        self._verified.clear()

    # --- changing (the CLI) ----------------------------------------------------------------------

    def add(self, name: str, role: Role, *, forces: list[str] = (), retailers: list[str] = (),  # type: ignore[assignment]
            password: str | None = None, replace: bool = False) -> str:
        """Create (or, with ``replace``, re-create) a user; returns its new token, which is stored only as a hash."""
        if not _NAME.match(name):
            raise AccessError(f"user name {name!r} is not allowed: use 1-64 letters, digits, '.', '_', '@' or '-'")
        if role is Role.FORCE and not forces:
            raise AccessError("a force user needs at least one --force")
        if role is Role.RETAILER and not retailers:
            raise AccessError("a retailer user needs --retailer")
        if role is not Role.FORCE and forces:
            raise AccessError("--force applies to force users only")
        if role is not Role.RETAILER and retailers:
            raise AccessError("--retailer applies to retailer users only")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self._lock:
            self._reload()
            existing = self._users.get(name)
            if existing is not None and not existing.revoked and not replace:
                raise AccessError(f"user {name} exists; revoke it first or pass --replace")
            self._users[name] = User(name=name, role=role, forces=sorted(set(forces)), retailers=sorted(set(retailers)),
                                     created=datetime.now(UTC).isoformat(timespec="seconds"),
                                     tokens={token_id: hash_secret(secret)},
                                     password=hash_secret(password) if password else None)
            self._write()
        return f"crl_{token_id}_{secret}"

    def revoke(self, name: str) -> None:
        """Revoke every token and the password of ``name``; the user stays listed, marked revoked."""
        with self._lock:
            self._reload()
            user = self._users.get(name)
            if user is None:
                raise AccessError(f"no user {name}")
            user.revoked = datetime.now(UTC).isoformat(timespec="seconds")
            user.tokens, user.password = {}, None
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"users": [user.as_json() for user in self._users.values()]}, handle, indent=1)
        os.replace(temporary, self.path)
        self._seen = None
        self._reload()
