"""The read-mostly screens: gateways, provider templates, secrets (write-only values), API keys, audit log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.api import ApiError
from tollgate.console.forms import field_errors, text
from tollgate.console.pages import Page, Session, checked_form, redirect, render, signed_in
from tollgate.console.views import templates_view, usage

AUDIT_PAGE = 100


async def gateways(request: Request) -> Response:
    session = await signed_in(request)
    items = await session.api.get("/gateways")
    deployed: dict[str, list[dict[str, Any]]] = {}
    for d in await session.api.get("/deployments"):
        deployed.setdefault(d["gateway"], []).append(d)
    context = {"gateways": items, "deployed": deployed}
    return render(request, Page("gateways.html", "Gateways", nav="gateways", context=context), session)


async def templates(request: Request) -> Response:
    session = await signed_in(request)
    items = await session.api.get("/templates")
    custom = {t["name"]: await session.api.get(f"/templates/{t['name']}") for t in items if not t["builtin"]}
    context = {"templates": items, "custom": custom}
    return render(request, Page("templates.html", "Provider templates", nav="templates", context=context), session)


async def delete_template(request: Request) -> Response:
    session = await signed_in(request)
    await checked_form(request, session)
    await session.api.call("DELETE", f"/templates/{request.path_params['name']}")
    return redirect("/templates")


async def secrets(request: Request) -> Response:
    session = await signed_in(request)
    return await _secrets_page(request, session, {}, None, {})


async def _secrets_page(
    request: Request,
    session: Session,
    errors: dict[str, str],
    message: str | None,
    values: dict[str, str],
    status: int = 200,
) -> Response:
    context = {
        "secrets": await session.api.get("/secrets"),
        "errors": errors,
        "message": message,
        "values": values,
        "saved": request.query_params.get("saved"),
        "reencrypted": request.query_params.get("reencrypted"),
    }
    return render(request, Page("secrets.html", "Secrets", nav="secrets", context=context, status=status), session)


async def put_secret(request: Request) -> Response:
    """Create a secret or rotate its value (PUT /secrets/{name}); the value is never shown back."""
    session = await signed_in(request)
    form = await checked_form(request, session)
    name = text(form, "name")
    try:
        await session.api.call("PUT", f"/secrets/{name}", json={"value": str(form.get("value", ""))})
    except ApiError as exc:
        errors, message = field_errors(exc, {"name", "value"})
        if exc.status == 422 and not errors:
            errors, message = {"name": exc.message}, None
        return await _secrets_page(request, session, errors, message, {"name": name}, exc.status)
    return redirect(f"/secrets?saved={name}")


async def delete_secret(request: Request) -> Response:
    """Refused by the API (409, shown) while a provider's credential names the secret."""
    session = await signed_in(request)
    form = await checked_form(request, session)
    try:
        await session.api.call("DELETE", f"/secrets/{text(form, 'name')}")
    except ApiError as exc:
        return await _secrets_page(request, session, {}, exc.message, {}, exc.status)
    return redirect("/secrets")


async def rotate_secrets(request: Request) -> Response:
    """Re-encrypt every secret with the newest key of the key file (a fresh one first when asked)."""
    session = await signed_in(request)
    form = await checked_form(request, session)
    body = {"newKey": form.get("new_key") == "on", "retireOldKeys": form.get("retire_old_keys") == "on"}
    try:
        answer = await session.api.call("POST", "/secrets/rotate", json=body)
    except ApiError as exc:
        return await _secrets_page(request, session, {}, exc.message, {}, exc.status)
    return redirect(f"/secrets?reencrypted={int(answer['reencrypted'])}")


async def keys(request: Request) -> Response:
    session = await signed_in(request)
    items = await session.api.get("/keys")
    return render(request, Page("keys.html", "API keys", nav="keys", context={"keys": items}), session)


async def revoke_key(request: Request) -> Response:
    session = await signed_in(request)
    form = await checked_form(request, session)
    await session.api.call("POST", f"/keys/{text(form, 'key_id')}/revoke")
    return redirect("/keys")


async def audit(request: Request) -> Response:
    session = await signed_in(request)
    params = {k: request.query_params.get(k, "").strip() for k in ("actor", "kind", "action")}
    cursor = request.query_params.get("cursor") or None
    page = await session.api.get(
        "/audit", limit=str(AUDIT_PAGE), cursor=cursor, **{k: v for k, v in params.items() if v}
    )
    context = {"entries": page["items"], "next": page.get("nextCursor"), "filters": params}
    return render(request, Page("audit.html", "Audit log", nav="audit", context=context), session)


routes = [
    Route("/gateways", gateways, methods=["GET"]),
    Route("/templates", templates, methods=["GET"]),
    Route("/templates/{name:str}/delete", delete_template, methods=["POST"]),
    Route("/secrets", secrets, methods=["GET"]),
    Route("/secrets", put_secret, methods=["POST"]),
    Route("/secrets/delete", delete_secret, methods=["POST"]),
    Route("/secrets/rotate", rotate_secrets, methods=["POST"]),
    Route("/keys", keys, methods=["GET"]),
    Route("/keys/revoke", revoke_key, methods=["POST"]),
    Route("/audit", audit, methods=["GET"]),
    *usage.routes,
    *templates_view.routes,
]
