"""What every console page shares: the signed-in `Session`, template rendering, and the checked form body.

A page is rendered from the caller's own API answers only; what the role may do is decided with the
same permission table the API enforces (`control.permissions`), so a button is offered exactly when
the API would accept its action (and the API still refuses a forced one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from tollgate.console.api import ApiError, ConsoleApi
from tollgate.console.session import CSRF_FIELD, csrf_for, csrf_matches, session_token
from tollgate.control import permissions

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/console"

_env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]), auto_reload=False)


class SignInRequired(Exception):
    """No session, or the API no longer accepts its token: go to the sign-in page."""


class BadForm(Exception):
    """A form without the session's CSRF token: refused (403) before anything is called."""


@dataclass(frozen=True, slots=True)
class Session:
    """The signed-in caller of one console request: their API client, name, role and form token."""

    api: ConsoleApi
    user: str
    role: str
    csrf: str

    def may(self, permission: str) -> bool:
        return permissions.grants(self.role, permission)


def api_for(request: Request, token: str | None) -> ConsoleApi:
    """The management API this console is mounted in, as the holder of `token`, for this browser's address."""
    return ConsoleApi(request.app.state.api_app, token, request.client.host if request.client else "127.0.0.1")


async def signed_in(request: Request) -> Session:
    """The caller's session, checked against the API (GET /whoami); `SignInRequired` otherwise."""
    token = session_token(request)
    if token is None:
        raise SignInRequired
    api = api_for(request, token)
    try:
        who = await api.get("/whoami")
    except ApiError as exc:
        if exc.status in (401, 429):
            raise SignInRequired from None
        raise
    return Session(api=api, user=str(who["user"]), role=str(who["role"]), csrf=csrf_for(token))


async def checked_form(request: Request, session: Session) -> FormData:
    """The posted form, after its CSRF token was checked against the session's."""
    form = await request.form()
    if not csrf_matches(session_token(request) or "", form.get(CSRF_FIELD)):
        raise BadForm
    return form


@dataclass
class Page:
    """A template and what it shows; `render` adds the layout's own context (user, nav, csrf)."""

    template: str
    title: str
    nav: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def render(request: Request, page: Page, session: Session | None) -> HTMLResponse:
    html = _env.get_template(page.template).render(
        title=page.title,
        nav=page.nav,
        session=session,
        csrf_field=CSRF_FIELD,
        prefix=PREFIX,
        **page.context,
    )
    return HTMLResponse(html, status_code=page.status)


def redirect(path: str) -> RedirectResponse:
    """After a successful POST: see the result with a GET (so a reload does not repeat the action)."""
    return RedirectResponse(PREFIX + path, status_code=303)
