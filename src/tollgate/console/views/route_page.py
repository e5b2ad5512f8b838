"""The page of one provider or proxy: its tabs (Connection, Security, Models, Deployments, API keys) and
the Get started panel, and the saving of a tab (a PUT of the whole document at the version shown).

A save sends back the `resourceVersion` the form was rendered from, so two people editing at once
cannot overwrite each other silently: the second gets the API's 409 and the page says to reload.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.api import ApiError
from tollgate.console.forms import checked, field_errors, lines, optional, text
from tollgate.console.getstarted import DEFAULT_MODELS, placement_of, snippet_tabs, vendor_of
from tollgate.console.kinds import PROVIDERS, RouteKind
from tollgate.console.pages import Page, Session, checked_form, redirect, render, signed_in
from tollgate.console.policy_form import TAB_CATEGORIES
from tollgate.console.policy_tab import policy_context
from tollgate.console.session import forget_key, handed_over_key
from tollgate.console.views.route_list import kind_of

TABS = {
    "LLMProvider": [
        ("connection", "Connection"),
        ("security", "Security"),
        ("models", "Models"),
        ("access", "Access control"),
        ("limits", "Rate limiting"),
        ("guardrails", "Guardrails"),
        ("deployments", "Deployments"),
        ("keys", "API keys"),
    ],
    "LLMProxy": [
        ("connection", "Connection"),
        ("security", "Security"),
        ("access", "Access control"),
        ("limits", "Rate limiting"),
        ("guardrails", "Guardrails"),
        ("deployments", "Deployments"),
        ("keys", "API keys"),
    ],
}
_FIELDS = {
    "connection": {
        "metadata.description",
        "spec.context",
        "spec.upstreamUrl",
        "spec.credential",
        "spec.provider",
        "spec.fallbacks",
        "spec.routing",
    },
    "security": {
        "spec.security.enabled",
        "spec.security.location",
        "spec.security.name",
        "spec.security.valuePrefix",
        "spec.security.acceptVendorHeaders",
    },
    "models": {"spec.models"},
}


async def route_page(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    tab = request.query_params.get("tab", "connection")
    name = request.path_params["name"]
    handed = handed_over_key(request)
    new_key = None
    if handed is not None:  # just generated: show it this once, if it is a key of this route
        keys = await session.api.get("/keys", kind=kind.kind, target=name)
        new_key = next(({**k, "value": handed} for k in keys if k["id"] == handed[3:15]), None)
    response = await show(request, session, kind, name, tab, new_key=new_key)
    if handed is not None:
        forget_key(response, request)
    return response


async def show(
    request: Request,
    session: Session,
    kind: RouteKind,
    name: str,
    tab: str,
    *,
    doc: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    new_key: dict[str, Any] | None = None,
    posted_policy: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """Render the page; after a refused save `doc` is the form's values, `errors` the API's by field."""
    stored = await session.api.get(f"/{kind.collection}/{name}")
    shown = doc or stored
    valid_tabs = [t for t, _ in TABS[kind.kind]]
    tab = tab if tab in valid_tabs else "connection"
    deployments = [d for d in await session.api.get("/deployments") if d["kind"] == kind.kind and d["name"] == name]
    context: dict[str, Any] = {
        "kind": kind,
        "doc": shown,
        "version": stored["metadata"].get("resourceVersion", ""),
        "tab": tab,
        "tabs": TABS[kind.kind],
        "errors": errors or {},
        "message": message,
        "deployments": deployments,
        "created": request.query_params.get("created") == "1",
        "new_key": new_key,
    }
    family_spec = stored["spec"]
    if kind is PROVIDERS:
        template = stored["spec"]["template"]
        templates = {t["name"]: t for t in await session.api.get("/templates")}
        context["template"] = templates.get(template)
        custom = None if context["template"] is None or context["template"]["builtin"] else template
        error_format = (await session.api.get(f"/templates/{custom}"))["spec"].get("errorFormat") if custom else None
        vendor = vendor_of(template, error_format, stored["spec"].get("clientApi"))
        models = stored["spec"].get("models") or []
        if tab == "connection":
            context["secrets"] = await session.api.get("/secrets")
    else:
        provider = await session.api.get(f"/providers/{stored['spec']['provider']}")
        vendor = vendor_of(
            provider["spec"]["template"], None, stored["spec"].get("clientApi") or provider["spec"].get("clientApi")
        )
        models = provider["spec"].get("models") or []
        if tab == "connection":
            context["providers"] = await session.api.get("/providers")
    if tab in TAB_CATEGORIES:
        edit = request.query_params.get("edit", "")
        context.update(await policy_context(session, stored, tab, int(edit) if edit.isdigit() else None, posted_policy))
    if tab == "deployments":
        context["gateways"] = await session.api.get("/gateways")
        context["history"] = await _history(session, kind, name, context["gateways"])
    if tab == "keys" or new_key is not None:
        context["keys"] = await session.api.get("/keys", kind=kind.kind, target=name)
    invoke = next((d["invokeUrl"] for d in deployments if d["live"] and d["invokeUrl"]), None)
    model = models[0] if models else DEFAULT_MODELS.get(vendor, "<model>")
    key_value = new_key["value"] if new_key else None
    context["invoke_url"] = invoke
    context["vendor"] = vendor
    context["snippets"] = snippet_tabs(vendor, invoke, key_value, model, placement_of(family_spec)) if invoke else []
    page = Page("route.html", name, nav=kind.collection, context=context, status=status)
    return render(request, page, session)


async def _history(
    session: Session, kind: RouteKind, name: str, gateways: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for gateway in gateways:
        try:
            out += await session.api.get(f"/deployments/{gateway['name']}/{kind.kind}/{name}/history")
        except ApiError as exc:
            if exc.status != 404:
                raise
    return sorted(out, key=lambda d: (d["gateway"], -d["revision"]))


def _apply_tab(doc: dict[str, Any], tab: str, form: FormData) -> None:
    """Write the tab's form values into the document (the API validates them)."""
    spec = doc["spec"]
    if tab == "connection":
        doc["metadata"]["description"] = text(form, "metadata.description")
        spec["context"] = text(form, "spec.context")
        if doc["kind"] == "LLMProvider":
            spec["upstreamUrl"] = optional(form, "spec.upstreamUrl")
            choice = text(form, "spec.credential")
            if choice.startswith("env:"):
                spec["credential"] = {"env": choice[4:]}
            else:
                spec["credential"] = {"secret": choice} if choice else None
        else:
            spec["provider"] = text(form, "spec.provider")
            spec["fallbacks"] = [str(v) for v in form.getlist("spec.fallbacks") if v and v != spec["provider"]]
            strategy = text(form, "spec.routing.strategy")
            if strategy and (strategy != "ordered" or spec.get("routing")):
                spec["routing"] = {**(spec.get("routing") or {}), "strategy": strategy}
    elif tab == "security":
        spec["security"] = {
            "enabled": checked(form, "spec.security.enabled"),
            "location": text(form, "spec.security.location"),
            "name": text(form, "spec.security.name"),
            "valuePrefix": form.get("spec.security.valuePrefix", ""),
            "acceptVendorHeaders": checked(form, "spec.security.acceptVendorHeaders"),
        }
    elif tab == "models":
        spec["models"] = lines(form, "spec.models")


async def save_tab(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    tab = request.path_params["tab"]
    form = await checked_form(request, session)
    doc = await session.api.get(f"/{kind.collection}/{name}")
    if tab not in _FIELDS:
        return redirect(f"/{kind.collection}/{name}")
    doc["metadata"]["resourceVersion"] = text(form, "version") or None
    _apply_tab(doc, tab, form)
    try:
        await session.api.call("PUT", f"/{kind.collection}/{name}", json=doc)
    except ApiError as exc:
        if exc.status == 409 and not exc.details:
            stale = f"{exc.message}: someone changed this {kind.label} meanwhile; reload the page to see it."
            return await show(request, session, kind, name, tab, doc=doc, message=stale, status=409)
        errors, message = field_errors(exc, _FIELDS[tab])
        return await show(request, session, kind, name, tab, doc=doc, errors=errors, message=message, status=exc.status)
    return redirect(f"/{kind.collection}/{name}?tab={tab}&saved=1")


routes = [
    Route("/providers/{name:str}", route_page, methods=["GET"]),
    Route("/proxies/{name:str}", route_page, methods=["GET"]),
    Route("/providers/{name:str}/tab/{tab:str}", save_tab, methods=["POST"]),
    Route("/proxies/{name:str}/tab/{tab:str}", save_tab, methods=["POST"]),
]
