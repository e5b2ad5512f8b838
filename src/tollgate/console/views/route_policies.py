"""Saving the policy tabs (Access control, Rate limiting, Guardrails): add, change or remove one entry
of the route's `spec.policies`, then PUT the document at the version the page showed."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.api import ApiError
from tollgate.console.forms import text
from tollgate.console.pages import checked_form, redirect, signed_in
from tollgate.console.policy_form import TAB_CATEGORIES, ParamError, param_fields, params_from_form
from tollgate.console.views.route_list import kind_of
from tollgate.console.views.route_page import show


async def save_policy(request: Request) -> Response:
    session = await signed_in(request)
    kind = kind_of(request)
    name = request.path_params["name"]
    form = await checked_form(request, session)
    tab = text(form, "tab") if text(form, "tab") in TAB_CATEGORIES else "guardrails"
    doc = await session.api.get(f"/{kind.collection}/{name}")
    doc["metadata"]["resourceVersion"] = text(form, "version") or None
    policies: list[dict[str, Any]] = list(doc["spec"].get("policies") or [])
    index = int(text(form, "index")) if text(form, "index").isdigit() else None
    posted: dict[str, Any] | None
    if text(form, "action") == "remove":
        if index is None or index >= len(policies):
            return redirect(f"/{kind.collection}/{name}?tab={tab}")
        del policies[index]
        posted = None
    else:
        policy_name = text(form, "policy")
        catalog = {p["name"]: p for p in await session.api.get("/policies")}
        if policy_name not in catalog:
            return redirect(f"/{kind.collection}/{name}?tab={tab}")
        paths = [{"path": line.strip()} for line in text(form, "paths").splitlines() if line.strip()]
        posted = {"name": policy_name, "index": index, "params": {}, "paths": paths}
        try:
            params = params_from_form(param_fields(catalog[policy_name]["parameters"]), form)
        except ParamError as exc:
            message = f"{policy_name}: {exc.field.removeprefix('p.')}: {exc}"
            return await show(request, session, kind, name, tab, message=message, posted_policy=posted, status=422)
        posted["params"] = params
        entry: dict[str, Any] = {"name": policy_name, "params": params}
        if paths:
            entry["paths"] = paths
        if index is not None and index < len(policies):
            policies[index] = entry
        else:
            policies.append(entry)
    doc["spec"]["policies"] = policies
    try:
        await session.api.call("PUT", f"/{kind.collection}/{name}", json=doc)
    except ApiError as exc:
        reasons = [f"{d.get('field', '')}: {d.get('reason', '')}".strip(": ") for d in exc.details] or [exc.message]
        return await show(
            request, session, kind, name, tab, message="; ".join(reasons), posted_policy=posted, status=exc.status
        )
    return redirect(f"/{kind.collection}/{name}?tab={tab}&saved=1")


routes = [
    Route("/providers/{name:str}/policies", save_policy, methods=["POST"]),
    Route("/proxies/{name:str}/policies", save_policy, methods=["POST"]),
]
