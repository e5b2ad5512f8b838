"""`create_app`: the management API as a FastAPI app over one `Store`, described by /openapi.json.

Route functions are plain `def`: the store is synchronous and FastAPI runs them in worker threads.
Everything below /api/v1 needs a user's token and the permission its role grants (`permissions`),
and every successful change is written to the audit log (`audit`); /healthz, /api/v1/login and the
OpenAPI document need no token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Response

from tollgate.console.app import console_app
from tollgate.control import permissions
from tollgate.control.audit import record_changes
from tollgate.control.auth import AdminAuth, require_permission
from tollgate.control.errors import install_error_handlers
from tollgate.control.guard import DEFAULT_ADMIN_MAX_BODY, AdminGuard
from tollgate.control.health import health_router
from tollgate.control.jobs import JobRegistry
from tollgate.control.routes import (
    apply,
    audit,
    deployments,
    jobs,
    keys,
    login,
    policies,
    resources,
    secrets,
    usage,
    users,
)
from tollgate.control.schemas import ErrorResponse
from tollgate.security.backoff import FailureBackoff
from tollgate.store import Store

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

API_PREFIX = permissions.API_PREFIX
_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON"},
    401: {"model": ErrorResponse, "description": "Missing, invalid, expired or revoked token"},
    403: {"model": ErrorResponse, "description": "The token's role lacks the permission (named in the error)"},
    404: {"model": ErrorResponse, "description": "No such resource (or gateway, key, deployment)"},
    409: {
        "model": ErrorResponse,
        "description": "Conflict: with another resource (in use, context taken), or a stale resourceVersion / "
        "If-Match (someone changed the resource since you read it: read it again and reapply)",
    },
    413: {"model": ErrorResponse, "description": "Request body over the configured limit"},
    429: {"model": ErrorResponse, "description": "Too many failed tokens from this client"},
    422: {
        "model": ErrorResponse,
        "description": "Invalid input: names resource, field and reason. Besides each field's schema: the name in "
        "a body must match the URL's; references (template, secret, provider, key target) must exist; contexts "
        "look like `/name` or `/a/b` and are unique; a proxy's provider is deployed on the gateway first",
    },
}


def create_app(
    store: Store,
    *,
    auth: AdminAuth | None = None,
    max_body: int = DEFAULT_ADMIN_MAX_BODY,
    backoff: FailureBackoff | None = None,
    started: Callable[[], bool] | None = None,
    metrics: Callable[[], bytes] | None = None,
) -> FastAPI:
    """The management API over `store`; `auth` defaults to env TOLLGATE_ADMIN_TOKEN plus the stored tokens.

    `AdminGuard` wraps it: bad tokens are refused (and backed off per client, `backoff`) before a body
    is read, and bodies over `max_body` bytes get 413. Probes at /_tollgate/live and /_tollgate/ready
    need no token; `started` (a node's "has finished starting") is part of readiness when given.
    `metrics` renders the node's Prometheus metrics for `/metrics` (no token either).
    """
    app = FastAPI(
        title="Tollgate management API",
        version="1",
        description="Manage templates, providers, proxies, secrets, API keys, gateways, deployments and usage.",
        separate_input_output_schemas=False,
    )
    app.state.store = store
    app.state.auth = auth or AdminAuth(store)
    app.state.jobs = JobRegistry()
    install_error_handlers(app)
    app.state.backoff = FailureBackoff() if backoff is None else backoff
    app.add_middleware(
        AdminGuard,
        verify=app.state.auth.authenticate,
        backoff=app.state.backoff,
        max_body=max_body,
        public_paths=(f"{API_PREFIX}/login",),
    )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(health_router(store, started))
    if metrics is not None:
        render = metrics

        @app.get("/metrics", tags=["health"], response_class=Response)
        def prometheus_metrics() -> Response:
            """Prometheus text exposition: traffic, tokens, cost, errors, latency, usage records."""
            return Response(render(), media_type=METRICS_CONTENT_TYPE)

    guarded = [Depends(require_permission), Depends(record_changes, scope="function")]
    for module in (resources, secrets, keys, deployments, apply, jobs, usage, users, audit, policies):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=guarded, responses=_ERRORS)
    login_errors: dict[int | str, dict[str, object]] = {c: _ERRORS[c] for c in (401, 413, 422, 429)}
    app.include_router(login.router, prefix=API_PREFIX, responses=login_errors)
    _describe_permissions(app)
    app.mount("/console", console_app(app))
    return app


def _describe_permissions(app: FastAPI) -> None:
    """Make /openapi.json say, per operation, the permission it needs and the roles that have it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema["components"]["schemas"].update(apply.BODY_SCHEMAS)
        _absent_not_null(schema)
        for path, operations in schema["paths"].items():
            if not path.startswith(API_PREFIX + "/") or path == f"{API_PREFIX}/login":
                continue
            for method, operation in operations.items():
                needed = permissions.route_permission(method.upper(), path)
                operation["x-permission"] = needed
                operation["x-roles"] = permissions.roles_for(needed)
                described = operation.get("description", "")
                operation["description"] = f"{described}\n\n{permissions.describe(needed)}".strip()
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _absent_not_null(schema: dict[str, Any]) -> None:
    """An optional query, header or path parameter is absent or a string: never JSON null (a query or
    header cannot carry one; generated clients sent the text "null"). FastAPI documents `str | None`
    parameters as `anyOf: [..., {type: null}]`; keep the non-null branch."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                branches = parameter.get("schema", {}).get("anyOf")
                if not parameter.get("required") and branches:
                    kept = [b for b in branches if b.get("type") != "null"]
                    if len(kept) == 1 and len(kept) < len(branches):
                        rest = {k: v for k, v in parameter["schema"].items() if k != "anyOf"}
                        parameter["schema"] = {**kept[0], **rest}
