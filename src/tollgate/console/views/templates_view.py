"""Provider templates: built-in ones listed read-only; custom ones created, edited (PUT at the version
shown) and deleted. Each form field is named by its document path, so the API's errors land beside it."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollgate.console.api import ApiError
from tollgate.console.forms import field_errors, lines, optional, text
from tollgate.console.pages import Page, Session, checked_form, redirect, render, signed_in
from tollgate.resources.models import API_VERSION

_LIST_FIELDS = (
    "spec.clientKeyHeaders",
    "spec.responseModel",
    "spec.usage.promptTokens",
    "spec.usage.completionTokens",
    "spec.usage.totalTokens",
    "spec.usage.cachedTokens",
)
_TEXT_FIELDS = (
    "spec.baseUrl",
    "spec.credential.location",
    "spec.credential.name",
    "spec.credential.prefix",
    "spec.requestModel.bodyField",
    "spec.requestModel.pathPattern",
    "spec.streaming.bodyFlag",
    "spec.streaming.pathPattern",
    "spec.errorFormat",
)
KNOWN = {"metadata.name", "metadata.description", "spec.defaultHeaders", *_LIST_FIELDS, *_TEXT_FIELDS}
#: What a new template's form starts with: an OpenAI-compatible API.
NEW_TEMPLATE: dict[str, Any] = {
    "metadata": {"name": "", "description": ""},
    "spec": {
        "credential": {"location": "header", "name": "Authorization", "prefix": "Bearer "},
        "clientKeyHeaders": ["authorization"],
        "requestModel": {"bodyField": "model"},
        "streaming": {"bodyFlag": "stream"},
        "responseModel": ["model"],
        "usage": {
            "promptTokens": ["usage.prompt_tokens"],
            "completionTokens": ["usage.completion_tokens"],
            "totalTokens": ["usage.total_tokens"],
        },
        "errorFormat": "openai",
    },
}


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    node = doc
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def document_of(form: FormData, name: str, version: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "description": text(form, "metadata.description")}
    if version:
        metadata["resourceVersion"] = version
    doc: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "ProviderTemplate", "metadata": metadata, "spec": {}}
    for path in _TEXT_FIELDS:
        if path == "spec.credential.prefix":  # kept as typed: "Bearer " ends in a space
            raw = form.get(path, "")
            _set(doc, path, raw if isinstance(raw, str) else "")
        else:
            _set(doc, path, optional(form, path))
    for path in _LIST_FIELDS:
        _set(doc, path, lines(form, path))
    headers = {}
    for line in text(form, "spec.defaultHeaders").splitlines():
        key, _, value = line.partition(":")
        if key.strip():
            headers[key.strip()] = value.strip()
    doc["spec"]["defaultHeaders"] = headers
    return doc


async def _form(
    request: Request,
    session: Session,
    doc: dict[str, Any],
    is_new: bool,
    errors: dict[str, str],
    message: str | None,
    status: int = 200,
) -> Response:
    title = "New provider template" if is_new else f"Template {doc['metadata']['name']}"
    context = {"doc": doc, "is_new": is_new, "errors": errors, "message": message}
    return render(request, Page("template_form.html", title, nav="templates", context=context, status=status), session)


async def new_template(request: Request) -> Response:
    session = await signed_in(request)
    return await _form(request, session, NEW_TEMPLATE, True, {}, None)


async def edit_template(request: Request) -> Response:
    session = await signed_in(request)
    doc = await session.api.get(f"/templates/{request.path_params['name']}")
    return await _form(request, session, doc, False, {}, None)


async def save_template(request: Request) -> Response:
    session = await signed_in(request)
    form = await checked_form(request, session)
    is_new = "name" not in request.path_params
    name = text(form, "metadata.name") if is_new else request.path_params["name"]
    doc = document_of(form, name, None if is_new else optional(form, "version"))
    if is_new and name:
        templates = await session.api.get("/templates")
        if any(t["name"] == name for t in templates):
            errors = {"metadata.name": f"a template named {name!r} already exists"}
            return await _form(request, session, doc, True, errors, None, 409)
    try:
        await session.api.call("PUT", f"/templates/{name or '-'}", json=doc)
    except ApiError as exc:
        errors, message = field_errors(exc, KNOWN)
        if exc.status == 422 and not name:
            errors = {"metadata.name": "a name is required"}
            message = None
        return await _form(request, session, doc, is_new, errors, message, exc.status)
    return redirect("/templates")


routes = [
    Route("/templates/new", new_template, methods=["GET"]),
    Route("/templates/new", save_template, methods=["POST"]),
    Route("/templates/{name:str}/edit", edit_template, methods=["GET"]),
    Route("/templates/{name:str}/edit", save_template, methods=["POST"]),
]
