"""The door of the worker's web server: every request but ``/healthz`` and the login page says who is calling, and
every refusal is in the access log.

In order, for each request: the Host header must name this server (so a rebound DNS name is refused); a request from
another site is refused (``Origin``, ``Sec-Fetch-Site``), and no CORS header is ever sent; the caller is identified by
``Authorization: Bearer <token>`` or by the session cookie; a cookie alone is not enough for anything but a plain page
load, which must also carry the session's CSRF token (header ``X-CSRF-Token``, or the form's ``csrf`` field); the
view's roles must include the caller's; and a view that shows personal data needs a justification
(``X-Justification``, or ``why`` in the page's form).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from faust.web import Request, Response, View

from crimelink.access.audit import AuditEvent, Category, Outcome
from crimelink.access.principals import ANONYMOUS, Principal, Role
from crimelink.access.sessions import COOKIE, LoginThrottle, Session, SessionStore
from crimelink.access.users import UserRegistry
from crimelink.errors import AccessError, AuditUnavailable
from crimelink.settings import WebSettings
from crimelink.streams.audit import AuditTrail
from crimelink.streams.web.pages import justification_page, signed_in_bar

__all__ = ["Door", "SecureView", "Caller", "check_listen_address", "SECURITY_HEADERS"]

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # not no-referrer: with it, browsers send "Origin: null" on a same-origin POST
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_DEFAULT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; " \
               "frame-ancestors 'none'; base-uri 'none'"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MIN_JUSTIFICATION = 4


def check_listen_address(web: WebSettings) -> None:
    """Refuse to serve tokens, cookies and personal data in clear text to the network."""
    web.check_listen_address()


@dataclass(frozen=True)
class Caller:
    """Who is asking, from where, and with what session (None for a bearer token)."""

    principal: Principal
    client: str
    session: Session | None
    justification: str

    def event(self, category: Category, action: str, **fields: Any) -> AuditEvent:
        return AuditEvent(category=category, action=action, principal=self.principal, client=self.client,
                          justification=self.justification, **fields)


class Door:
    def __init__(self, web: WebSettings, users: UserRegistry, sessions: SessionStore, trail: AuditTrail) -> None:
        self.web = web
        self.users = users
        self.sessions = sessions
        self.trail = trail
        self.throttle = LoginThrottle()
        self.hosts = {name.lower() for name in (web.host, *_LOOPBACK_NAMES, *web.allowed_hosts)}
        scheme = "https" if web.tls else "http"
        self.origins = {f"{scheme}://{_bracketed(host)}:{web.port}" for host in self.hosts}
        self.cookie_flags = {"httponly": True, "samesite": "Strict", "secure": web.tls, "path": "/"}

    def host_allowed(self, request: Request) -> bool:
        host = (request.headers.get("Host") or "").strip().lower()
        name, port = _split_host(host)
        return name in self.hosts and port in (None, self.web.port)

    def cross_site(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in self.origins:
            return True
        return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")

    async def identify(self, request: Request) -> tuple[Principal, Session | None]:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return ANONYMOUS, None
            principal = await asyncio.to_thread(self.users.authenticate_token, token.strip())
            return principal or ANONYMOUS, None
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        if session is None:
            return ANONYMOUS, None
        current = self.users.get(session.principal.name)
        if current is None or current.revoked:  # revoked since login: the session ends with it
            self.sessions.end(session.id)
            return ANONYMOUS, None
        return session.principal, session

    @staticmethod
    def csrf_ok(session: Session, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), session.csrf.encode())


class SecureView(View):  # type: ignore[misc]  # faust is untyped
    """A view behind the door. Subclasses set ``roles`` (None: public), ``page`` (an HTML page a browser loads, so an
    unauthenticated visit is sent to the login page) and ``personal`` (the methods that show personal data)."""

    door: ClassVar[Door]
    roles: ClassVar[frozenset[Role] | None] = frozenset()
    page: ClassVar[bool] = False
    personal: ClassVar[frozenset[str]] = frozenset()
    action: ClassVar[str] = ""

    async def dispatch(self, request: Any) -> Any:
        response = await self._guarded(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
        return response

    async def _guarded(self, request: Request) -> Response:
        door = self.door
        anonymous = Caller(ANONYMOUS, request.remote or "", None, "")
        if not door.host_allowed(request):
            return self._refuse(request, anonymous, 421, "this server does not answer to that Host name "
                                "(CRIMELINK_WEB_ALLOWED_HOSTS)", f"Host {request.headers.get('Host')!r} not allowed")
        plain_load = request.method in ("GET", "HEAD") and self.page
        personal = request.method.lower() in self.personal
        if door.cross_site(request) and not (plain_load and not personal):
            return self._refuse(request, anonymous, 403, "cross-site requests are refused",
                                f"cross-site request (Origin {request.headers.get('Origin')})")
        if self.roles is None:
            return await super().dispatch(request)
        try:
            principal, session = await door.identify(request)
        except AccessError as error:  # the users file cannot be read: nobody gets in, and the reason is logged
            log.error("%s", error)
            return self._refuse(request, anonymous, 503, "authentication is unavailable: the users file cannot be "
                                "read (the worker's log says why)", str(error)[:300])
        if not principal.authenticated:
            if self.page and request.method == "GET":
                self._refuse(request, anonymous, 303, "", "no valid token or session")
                return self.bytes(b"", status=303, headers={"Location": f"/login?next={quote(request.path_qs)}"})
            return self._refuse(request, anonymous, 401, "authentication required: send Authorization: Bearer <token> "
                                "(crimelink users add prints one), or log in at /login", "no valid token or session",
                                headers={"WWW-Authenticate": "Bearer"})
        caller = Caller(principal, anonymous.client, session, _justification(request))
        if session is not None and not plain_load:
            presented = request.headers.get("X-CSRF-Token")
            if presented is None and request.content_type == "application/x-www-form-urlencoded":
                presented = str((await request.post()).get("csrf", ""))
            if not door.csrf_ok(session, presented):
                return self._refuse(request, caller, 403, "the CSRF token is missing or wrong: reload the page",
                                    "CSRF token missing or wrong")
        if principal.role not in self.roles:
            return self._refuse(request, caller, 403, f"{principal.name} ({principal.role}) may not use "
                                f"{request.path}", f"role {principal.role} may not", Category.CONSULTATION)
        if personal and len(caller.justification) < MIN_JUSTIFICATION:
            refusal = self._refuse(request, caller, 428, "this shows personal data: say why you consult it (header "
                                   "X-Justification, 'crimelink query --why ...', or the 'why' field of the page), e.g. "
                                   "\"Op Falcon: linking thefts across Kent and Essex\"", "no justification",
                                   Category.CONSULTATION)
            if plain_load and "text/html" in request.headers.get("Accept", ""):
                bar = signed_in_bar(principal.name, str(principal.role), session.csrf) if session else ""
                return self.html(justification_page(bar, "Why do you open this?", request.path), status=428)
            return refusal
        request["caller"] = caller
        try:
            return await super().dispatch(request)
        except AuditUnavailable:
            return self.problem(503, "the access log could not be written, so nothing was shown; try again")

    def _refuse(self, request: Request, caller: Caller, status: int, message: str, detail: str,
                category: Category = Category.AUTHENTICATION, headers: dict[str, str] | None = None) -> Response:
        """Queue the refusal for the access log (``AuditTrail.later``) and answer it."""
        self.door.trail.later(caller.event(category, self.action or request.path, outcome=Outcome.REFUSED,
                                           object=request.path_qs[:500], detail=detail))
        return self.problem(status, message, headers)

    def caller(self, request: Request) -> Caller:
        return request["caller"]  # type: ignore[no-any-return]

    def problem(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return self.bytes(json.dumps({"error": message}).encode(), content_type="application/json", status=status,
                          headers=headers)

    async def audited(self, request: Request, event: AuditEvent,
                      answer: Callable[[], Awaitable[tuple[Response, int]]]) -> Response:
        """Run ``answer`` (a response and its row count), record ``event`` with the rows and the outcome, then
        answer: the record is written before anything leaves."""
        try:
            response, rows = await answer()
        except Exception as error:
            event.outcome, event.detail = Outcome.FAILED, str(error)[:500]
            self.door.trail.later(event)
            raise
        event.rows = rows
        if response.status >= 400:
            event.outcome = Outcome.REFUSED if response.status < 500 else Outcome.FAILED
            event.detail = (response.body or b"")[:500].decode(errors="replace")
        await self.door.trail.record(event)
        return response


def _justification(request: Request) -> str:
    value = request.headers.get("X-Justification") or request.query.get("why") or ""
    return " ".join(value.split())[:500]


def _split_host(host: str) -> tuple[str, int | None]:
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name, port = host, None
    try:
        return name, int(port) if port else None
    except ValueError:
        return name, -1


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
