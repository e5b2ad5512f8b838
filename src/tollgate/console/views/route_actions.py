"""What is done to a provider or proxy beside editing it: deploy, undeploy, restore, generate and revoke keys.

A generated key is handed to the next page view in a short-lived HttpOnly cookie and shown there
once (the page is `Cache-Control: no-store`; the cookie is deleted by that response); every later
page shows it masked, as the API lists it. Redirecting (not rendering the POST's answer) means a
reload can never generate a second key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.api import ApiError
from tollgate.console.forms import text
from tollgate.console.pages import Session, checked_form, redirect, signed_in
from tollgate.console.session import hand_over_key
from tollgate.console.views.route_list import kind_of
from tollgate.console.views.route_page import show

#: The expiry choices of "Generate API key": form value -> lifetime (None: never expires).
EXPIRY_CHOICES: dict[str, timedelta | None] = {
    "never": None,
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "365d": timedelta(days=365),
}


async def _fail(request: Request, session: Session, tab: str, exc: ApiError) -> Response:
    kind = kind_of(request)
    return await show(request, session, kind, request.path_params["name"], tab, message=exc.message, status=exc.status)


async def deploy(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    form = await checked_form(request, session)
    body = {"gateway": text(form, "gateway"), "kind": kind.kind, "name": name}
    try:
        await session.api.call("POST", "/deployments", json=body)
    except ApiError as exc:
        return await _fail(request, session, "deployments", exc)
    return redirect(f"/{kind.collection}/{name}?tab=deployments")


async def undeploy(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    form = await checked_form(request, session)
    try:
        await session.api.call("DELETE", f"/deployments/{text(form, 'gateway')}/{kind.kind}/{name}")
    except ApiError as exc:
        return await _fail(request, session, "deployments", exc)
    return redirect(f"/{kind.collection}/{name}?tab=deployments")


async def restore(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    form = await checked_form(request, session)
    path = f"/deployments/{text(form, 'gateway')}/{kind.kind}/{name}/restore"
    try:
        await session.api.call("POST", path, json={"revision": int(text(form, "revision") or "0")})
    except (ApiError, ValueError) as exc:
        if isinstance(exc, ValueError):
            exc = ApiError(422, "choose a revision", [])
        return await _fail(request, session, "deployments", exc)
    return redirect(f"/{kind.collection}/{name}?tab=deployments")


async def generate_key(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    form = await checked_form(request, session)
    tab = text(form, "tab") or "connection"
    lifetime = EXPIRY_CHOICES.get(text(form, "expiry"))
    key_name = text(form, "key_name") or f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    body: dict[str, object] = {"name": key_name, "target": {"kind": kind.kind, "name": name}}
    if lifetime is not None:
        body["expiresAt"] = (datetime.now(UTC) + lifetime).isoformat()
    try:
        created = await session.api.call("POST", "/keys", json=body)
    except ApiError as exc:
        return await _fail(request, session, tab, exc)
    response = redirect(f"/{kind.collection}/{name}?tab={tab}")
    hand_over_key(response, request, str(created["value"]))
    return response


async def revoke_key(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    form = await checked_form(request, session)
    try:
        await session.api.call("POST", f"/keys/{text(form, 'key_id')}/revoke")
    except ApiError as exc:
        return await _fail(request, session, "keys", exc)
    return redirect(f"/{kind.collection}/{name}?tab=keys")


async def regenerate_key(request: Request) -> Response:
    """A new value for the same key (the old one is refused within a second), shown once like a new key."""
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    form = await checked_form(request, session)
    try:
        created = await session.api.call("POST", f"/keys/{text(form, 'key_id')}/regenerate")
    except ApiError as exc:
        return await _fail(request, session, "keys", exc)
    response = redirect(f"/{kind.collection}/{name}?tab=keys")
    hand_over_key(response, request, str(created["value"]))
    return response


routes = [
    Route(f"/{collection}/{{name:str}}/{action}", handler, methods=["POST"])
    for collection in ("providers", "proxies")
    for action, handler in (
        ("deploy", deploy),
        ("undeploy", undeploy),
        ("restore", restore),
        ("keys", generate_key),
        ("revoke-key", revoke_key),
        ("regenerate-key", regenerate_key),
    )
]
