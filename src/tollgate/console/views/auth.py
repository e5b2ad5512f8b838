"""Sign in and sign out: a password exchanged for an API session token (POST /api/v1/login), and its revocation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.api import ApiError
from tollgate.console.pages import Page, api_for, checked_form, redirect, render, signed_in
from tollgate.console.session import (
    CSRF_FIELD,
    clear_session,
    login_csrf,
    login_csrf_matches,
    remember_login_csrf,
    session_token,
    set_session,
)


async def login_page(request: Request) -> Response:
    return _login_form(request, "", None, 200)


def _login_form(request: Request, username: str, error: str | None, status: int) -> Response:
    csrf = login_csrf(request)
    page = Page("login.html", "Sign in", context={"login_csrf": csrf, "username": username, "error": error})
    page.status = status
    response = render(request, page, None)
    remember_login_csrf(response, request, csrf)
    return response


async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    if not login_csrf_matches(request, form.get(CSRF_FIELD)):
        return _login_form(request, username, "The form expired: please sign in again.", 403)
    api = api_for(request, None)
    try:
        answer = await api.call(
            "POST", "/login", json={"username": username, "password": str(form.get("password", ""))}
        )
    except ApiError as exc:
        if exc.status == 429:
            message = "Too many failed sign-ins from this address: wait a minute and try again."
        elif exc.status == 422:
            message = "Enter your user name (lower-case letters, digits, '-') and password."
        else:
            message = "Invalid user name or password."
        return _login_form(request, username, message, exc.status)
    response = redirect("/")
    set_session(response, request, str(answer["value"]), 12 * 3600)
    return response


async def logout(request: Request) -> Response:
    response = redirect("/login")
    if session_token(request) is not None:
        session = await signed_in(request)
        await checked_form(request, session)
        who = await session.api.get("/whoami")
        try:
            await session.api.call("POST", f"/tokens/{who['tokenId']}/revoke")
        except ApiError as exc:  # an env-token or already-revoked session: nothing left to revoke
            if exc.status not in (401, 404, 422):
                raise
    clear_session(response, request)
    return response


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
