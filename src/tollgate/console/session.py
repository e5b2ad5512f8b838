"""The console's session and CSRF rules: which cookie holds what, and how a form proves it came from us.

The session cookie holds the management API session token that POST /api/v1/login returned (HttpOnly,
SameSite=Strict, Secure over HTTPS), so logging out revokes exactly that token and an expired or
revoked token signs the browser out on its next page. The CSRF token of a signed-in form is an HMAC
of the session token (a page script cannot read the cookie, so a foreign page cannot compute it);
the sign-in form, which has no session yet, uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "tollgate_console"
LOGIN_CSRF_COOKIE = "tollgate_console_csrf"
CSRF_FIELD = "csrf_token"
#: The longest session a browser keeps (the API caps a session token at 12 h too).
SESSION_SECONDS = 12 * 3600
_CSRF_CONTEXT = b"tollgate-console-csrf-v1"


def session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token or None


def csrf_for(token: str) -> str:
    """The CSRF token of forms in the session of `token` (stable for the session's life)."""
    return hmac.new(token.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_matches(token: str, presented: object) -> bool:
    return isinstance(presented, str) and hmac.compare_digest(csrf_for(token), presented)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=min(max_age, SESSION_SECONDS),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/console", httponly=True, samesite="strict", secure=is_https(request))


def login_csrf(request: Request) -> str:
    """The sign-in form's CSRF value: the browser's double-submit cookie, or a new value (`remember_login_csrf`)."""
    value = request.cookies.get(LOGIN_CSRF_COOKIE)
    return value if value and len(value) == 43 else secrets.token_urlsafe(32)


def remember_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        max_age=3600,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def login_csrf_matches(request: Request, presented: object) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie) and isinstance(presented, str) and hmac.compare_digest(cookie or "", presented)


#: "Generate API key" redirects to the page (so a reload cannot create a second key) and hands the new
#: value over in this cookie, which the next page view shows once and deletes.
NEW_KEY_COOKIE = "tollgate_console_new_key"
NEW_KEY_SECONDS = 120


def hand_over_key(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        NEW_KEY_COOKIE,
        value,
        max_age=NEW_KEY_SECONDS,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def handed_over_key(request: Request) -> str | None:
    value = request.cookies.get(NEW_KEY_COOKIE)
    return value if value and value.startswith("tg_") else None


def forget_key(response: Response, request: Request) -> None:
    response.delete_cookie(NEW_KEY_COOKIE, path="/console", httponly=True, samesite="strict", secure=is_https(request))
