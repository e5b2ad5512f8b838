"""`create_app`: the management API as a FastAPI app over one `Store`, described by /openapi.json.

Route functions are plain `def`: the store is synchronous and FastAPI runs them in worker threads.
Everything below /api/v1 needs the admin token; /healthz and the OpenAPI document do not.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI

from tollgate.control.auth import AdminAuth, require_admin
from tollgate.control.errors import install_error_handlers
from tollgate.control.guard import DEFAULT_ADMIN_MAX_BODY, AdminGuard
from tollgate.control.health import health_router
from tollgate.control.routes import apply, deployments, keys, policies, resources, secrets, usage
from tollgate.control.schemas import ErrorResponse
from tollgate.security.backoff import FailureBackoff
from tollgate.store import Store

API_PREFIX = "/api/v1"
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid admin token"},
    413: {"model": ErrorResponse, "description": "Request body over the configured limit"},
    429: {"model": ErrorResponse, "description": "Too many failed admin tokens from this client"},
    404: {"model": ErrorResponse, "description": "No such resource"},
    409: {"model": ErrorResponse, "description": "Conflict with another resource"},
    422: {"model": ErrorResponse, "description": "Invalid input: names resource, field and reason"},
}


def create_app(
    store: Store,
    *,
    auth: AdminAuth | None = None,
    max_body: int = DEFAULT_ADMIN_MAX_BODY,
    backoff: FailureBackoff | None = None,
    started: Callable[[], bool] | None = None,
) -> FastAPI:
    """The management API over `store`; `auth` defaults to env TOLLGATE_ADMIN_TOKEN plus the stored tokens.

    `AdminGuard` wraps it: bad tokens are refused (and backed off per client, `backoff`) before a body
    is read, and bodies over `max_body` bytes get 413. Probes at /_tollgate/live and /_tollgate/ready
    need no token; `started` (a node's "has finished starting") is part of readiness when given.
    """
    app = FastAPI(
        title="Tollgate management API",
        version="1",
        description="Manage templates, providers, proxies, secrets, API keys, gateways, deployments and usage.",
        separate_input_output_schemas=False,
    )
    app.state.store = store
    app.state.auth = auth or AdminAuth(store)
    install_error_handlers(app)
    app.add_middleware(
        AdminGuard,
        verify=app.state.auth.is_valid,
        backoff=FailureBackoff() if backoff is None else backoff,
        max_body=max_body,
    )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(health_router(store, started))

    guarded = [Depends(require_admin)]
    for module in (resources, secrets, keys, deployments, apply, usage, policies):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=guarded, responses=_ERRORS)
    return app
