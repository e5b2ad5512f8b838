"""LLM providers and proxies: the lists, the template tile picker, and the "new" forms (created through /apply).

A new provider with a new secret is one apply of both documents, so either both are stored or
neither; a name already taken is refused before the apply (the API's PUT/apply would replace it).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.api import ApiError
from tollgate.console.forms import field_errors, optional, text
from tollgate.console.kinds import BY_COLLECTION, PROVIDERS, RouteKind
from tollgate.console.pages import Page, Session, checked_form, redirect, render, signed_in
from tollgate.resources.models import API_VERSION

_PROVIDER_FIELDS = {
    "metadata.name",
    "metadata.description",
    "spec.context",
    "spec.upstreamUrl",
    "spec.credential",
    "spec.template",
    "secret.metadata.name",
    "secret.spec.value",
}
_PROXY_FIELDS = {"metadata.name", "metadata.description", "spec.context", "spec.provider"}


def kind_of(request: Request) -> RouteKind:
    """Providers or proxies, from the page's path (/console/<collection>/...)."""
    return BY_COLLECTION[request.url.path.split("/")[2]]


async def route_list(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    items = await session.api.get(f"/{kind.collection}")
    deployments = await session.api.get("/deployments")
    live: dict[str, list[dict[str, Any]]] = {}
    for d in deployments:
        if d["kind"] == kind.kind and d["live"]:
            live.setdefault(d["name"], []).append(d)
    rows = [{"doc": item, "deployments": live.get(item["metadata"]["name"], [])} for item in items]
    page = Page("routes.html", kind.plural, nav=kind.collection, context={"kind": kind, "rows": rows})
    return render(request, page, session)


async def picker(request: Request) -> Response:
    session = await signed_in(request)
    templates = await session.api.get("/templates")
    page = Page("picker.html", "Add an LLM provider", nav="providers", context={"templates": templates})
    return render(request, page, session)


async def new_form(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    return await _render_new(request, session, kind, request.path_params.get("template", ""), {}, {}, None)


async def _render_new(
    request: Request,
    session: Session,
    kind: RouteKind,
    template: str,
    values: dict[str, str],
    errors: dict[str, str],
    message: str | None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {"kind": kind, "values": values, "errors": errors, "message": message}
    if kind is PROVIDERS:
        templates = {t["name"]: t for t in await session.api.get("/templates")}
        if template not in templates:
            return redirect("/providers/new")
        context["template"] = templates[template]
        context["secrets"] = await session.api.get("/secrets")
    else:
        context["providers"] = await session.api.get("/providers")
    title = f"New {kind.label}" + (f" ({template})" if template else "")
    page = Page("route_new.html", title, nav=kind.collection, context=context, status=status)
    return render(request, page, session)


def _provider_documents(form: FormData, template: str, may_write_secrets: bool) -> list[dict[str, Any]]:
    name = text(form, "metadata.name")
    spec: dict[str, Any] = {"template": template, "context": text(form, "spec.context")}
    if optional(form, "spec.upstreamUrl"):
        spec["upstreamUrl"] = text(form, "spec.upstreamUrl")
    documents: list[dict[str, Any]] = []
    mode = text(form, "credential")
    if mode == "new" and may_write_secrets:
        secret = text(form, "secret.metadata.name") or f"{name}-upstream"
        documents.append(
            {
                "apiVersion": API_VERSION,
                "kind": "Secret",
                "metadata": {"name": secret},
                "spec": {"value": text(form, "secret.spec.value")},
            }
        )
        spec["credential"] = {"secret": secret}
    elif mode == "existing" and optional(form, "spec.credential"):
        spec["credential"] = {"secret": text(form, "spec.credential")}
    metadata = {"name": name, "description": text(form, "metadata.description")}
    documents.append({"apiVersion": API_VERSION, "kind": "LLMProvider", "metadata": metadata, "spec": spec})
    return documents


def _proxy_documents(form: FormData) -> list[dict[str, Any]]:
    metadata = {"name": text(form, "metadata.name"), "description": text(form, "metadata.description")}
    spec = {"provider": text(form, "spec.provider"), "context": text(form, "spec.context")}
    return [{"apiVersion": API_VERSION, "kind": "LLMProxy", "metadata": metadata, "spec": spec}]


async def create(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    form = await checked_form(request, session)
    template = request.path_params.get("template", "")
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "secret.spec.value"}
    name = text(form, "metadata.name")
    if kind is PROVIDERS:
        documents = _provider_documents(form, template, session.may("secrets:write"))
        known = _PROVIDER_FIELDS
    else:
        documents = _proxy_documents(form)
        known = _PROXY_FIELDS
    if name and await _exists(session, kind, name):
        errors = {"metadata.name": f"an {kind.label} named {name!r} already exists"}
        return await _render_new(request, session, kind, template, values, errors, None, 409)
    try:
        await session.api.call("POST", "/apply", json={"documents": documents})
    except ApiError as exc:
        errors, message = field_errors(exc, known, {"Secret": "secret."})
        return await _render_new(request, session, kind, template, values, errors, message, exc.status)
    return redirect(f"/{kind.collection}/{name}?created=1")


async def _exists(session: Session, kind: RouteKind, name: str) -> bool:
    try:
        await session.api.get(f"/{kind.collection}/{name}")
    except ApiError as exc:
        if exc.status in (404, 422):
            return False
        raise
    return True


routes = [
    Route("/providers", route_list, methods=["GET"]),
    Route("/proxies", route_list, methods=["GET"]),
    Route("/providers/new", picker, methods=["GET"]),
    Route("/providers/new/{template:str}", new_form, methods=["GET"]),
    Route("/providers/new/{template:str}", create, methods=["POST"]),
    Route("/proxies/new", new_form, methods=["GET"]),
    Route("/proxies/new", create, methods=["POST"]),
]
