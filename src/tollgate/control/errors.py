"""The management API's one mapping from exceptions to HTTP errors, all in one JSON shape.

422 names resource, field and reason (the loader's own messages when a body is a resource document);
400 for a body that is not JSON at all; 404 for missing things, 409 for conflicts (including a stale
resourceVersion), 401 for a bad token, 403 (naming the permission) for a role that lacks one, 405 with
`Allow` listing every method of the path. An unexpected error is a bare 500 whose body and log carry
only the exception type: never a value from the request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tollgate.errors import (
    AccessDeniedError,
    ResourceConflictError,
    ResourceNotFoundError,
    ResourceValidationError,
    ResourceValidationGroupError,
)
from tollgate.resources.loader import parse_document
from tollgate.resources.models import API_VERSION

log = logging.getLogger("tollgate.control")

#: First path segment after /api/v1 -> the resource kind a PUT body there must be.
KIND_BY_COLLECTION = {"templates": "ProviderTemplate", "providers": "LLMProvider", "proxies": "LLMProxy"}
_HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"}
_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "too_many_requests",
}


def error_response(
    status: int,
    message: str,
    *,
    kind: str | None = None,
    details: Sequence[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"status": status, "type": kind or _TYPES.get(status, "error"), "message": message, "errors": list(details)}
    extra = dict(headers or {})
    if status == 401:
        extra["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": body}, status_code=status, headers=extra or None)


def _method_table(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path regex, methods) of every operation in the app's OpenAPI document, built once per app."""
    table: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(app.state, "method_table", None)
    if table is None:
        table = []
        for path, operations in app.openapi().get("paths", {}).items():
            regex = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$")
            methods = {m.upper() for m in operations if m.upper() in _HTTP_METHODS}
            table.append((regex, frozenset(methods | ({"HEAD"} if "GET" in methods else set()))))
        app.state.method_table = table
    return table


def allowed_methods(request: Request) -> str:
    """Every method the API serves at this path (the router's own 405 names only one route's)."""
    path = request.url.path
    methods = {m for regex, ms in _method_table(request.app) if regex.match(path) for m in ms}
    return ", ".join(sorted(methods))


def validation_response(exc: ResourceValidationError) -> JSONResponse:
    status, body = error_body(exc)
    return JSONResponse({"error": body}, status_code=status)


def error_body(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The status and `error` object the API answers for an exception (a job's `error` reuses it)."""
    details: list[dict[str, str]] = []
    if isinstance(exc, ResourceValidationError):
        errors = exc.errors if isinstance(exc, ResourceValidationGroupError) else [exc]
        details = [{"resource": e.document, "field": e.field, "reason": e.reason} for e in errors]
        status, kind, message = 422, "validation_error", str(exc)
    elif isinstance(exc, ResourceNotFoundError):
        status, kind, message = 404, _TYPES[404], str(exc)
    elif isinstance(exc, ResourceConflictError):
        status, kind, message = 409, _TYPES[409], str(exc)
    elif isinstance(exc, AccessDeniedError):
        details = [{"resource": "permission", "field": exc.permission, "reason": f"not granted to role {exc.role!r}"}]
        status, kind, message = 403, _TYPES[403], str(exc)
    else:
        log.error("operation failed: %s", type(exc).__name__)
        status, kind, message = 500, "internal", f"internal error ({type(exc).__name__})"
    return status, {"status": status, "type": kind, "message": message, "errors": details}


def _document_errors(request: Request, body: object) -> ResourceValidationError | None:
    """The loader's verdict on a resource document body, so the API words errors like `tollgate apply`."""
    parts = request.url.path.strip("/").split("/")
    kind = KIND_BY_COLLECTION.get(parts[2]) if len(parts) >= 3 and parts[:2] == ["api", "v1"] else None
    if kind is None or not isinstance(body, Mapping):
        return None
    document = {"kind": kind, "apiVersion": API_VERSION, **body}
    try:
        parse_document(document, kind)
    except ResourceValidationError as exc:
        return exc
    return None


def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return error_response(400, "the request body is not valid JSON", details=[_detail(e) for e in exc.errors()])
    document_error = _document_errors(request, exc.body)
    if document_error is not None:
        return validation_response(document_error)
    details = [_detail(err) for err in exc.errors()]
    message = "; ".join(f"{d['resource']}: {d['field']}: {d['reason']}".replace(": : ", ": ") for d in details)
    return error_response(422, message or "invalid request", kind="validation_error", details=details)


def _detail(err: Mapping[str, Any]) -> dict[str, str]:
    loc = [str(part) for part in err.get("loc", ())]
    where = loc[0] if loc else "request"
    return {"resource": f"request {where}", "field": ".".join(loc[1:]), "reason": str(err.get("msg", "invalid"))}


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on `app` (one place: the status of each error class is decided here)."""

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _request_validation(request, exc)

    async def on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
        status, body = error_body(exc)
        return JSONResponse({"error": body}, status_code=status)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return error_response(exc.status_code, str(exc.detail), headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(500, f"internal error ({type(exc).__name__})", kind="internal")

    app.add_exception_handler(RequestValidationError, on_validation)
    for domain_error in (ResourceValidationError, ResourceNotFoundError, ResourceConflictError, AccessDeniedError):
        app.add_exception_handler(domain_error, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
