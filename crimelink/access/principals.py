"""Roles and the principal a request acts as. Identity comes from authentication only, never from a request's body."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Role", "Principal", "ANONYMOUS"]


class Role(StrEnum):
    ANALYST = "analyst"
    """National intelligence unit: the national view and free SQL."""
    FORCE = "force"
    """A force's liaison: alerts, series and incidents that touch its forces, through the views built for it."""
    RETAILER = "retailer"
    """A retailer's developers: its own backlog and feedback."""
    ADMIN = "admin"
    """Users, erasure and the access log; no intelligence data."""


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role | None
    forces: tuple[str, ...] = ()
    retailers: tuple[str, ...] = ()
    via: str = ""
    """How it authenticated: token, password, session; empty when it did not."""

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def sees_forces(self, forces: list[str] | tuple[str, ...]) -> bool:
        """Whether a force liaison may see something that touches ``forces`` (analysts see everything)."""
        if self.role is Role.ANALYST:
            return True
        return self.role is Role.FORCE and bool(set(forces) & set(self.forces))


ANONYMOUS = Principal(name="", role=None)
