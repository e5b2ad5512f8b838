"""`console_app`: the console as one ASGI app mounted at /console of the management API's app.

Its pages call the API they are mounted in (`ConsoleApi`), never the store. Errors the API answers
while a page is built become pages: 401 -> the sign-in page, 403 -> "your role may not", 404 ->
"not found"; a form without its CSRF token is a 403 before anything is called.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from tollgate.console.api import ApiError
from tollgate.console.headers import SecurityHeaders
from tollgate.console.pages import PREFIX, STATIC_DIR, BadForm, Page, SignInRequired, render
from tollgate.console.session import clear_session
from tollgate.console.views import auth, overview, route_actions, route_list, route_page, route_policies


async def _home(request: Request) -> Response:
    return RedirectResponse(PREFIX + "/providers", status_code=303)


async def _sign_in(request: Request, exc: Exception) -> Response:
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    clear_session(response, request)
    return response


async def _bad_form(request: Request, exc: Exception) -> Response:
    page = Page(
        "error.html",
        "Form expired",
        context={
            "message": "This form expired or did not come from the console: go back, reload the page and try again."
        },
        status=403,
    )
    return render(request, page, None)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status == 401:
        return await _sign_in(request, exc)
    titles = {403: "Not allowed", 404: "Not found"}
    page = Page("error.html", titles.get(exc.status, "Error"), context={"message": exc.message}, status=exc.status)
    return render(request, page, None)


def console_app(api_app: ASGIApp) -> Starlette:
    """The console over the management API `api_app` (the app it is mounted in)."""
    routes = [
        Route("/", _home, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        *auth.routes,
        *route_list.routes,
        *route_actions.routes,
        *route_policies.routes,
        *route_page.routes,
        *overview.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={SignInRequired: _sign_in, BadForm: _bad_form, ApiError: _api_error},
    )
    app.state.api_app = api_app
    return app
