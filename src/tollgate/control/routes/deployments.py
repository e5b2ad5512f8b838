"""Gateways and deployments: deploy or undeploy a provider or proxy, history, restore, Invoke URLs.

A gateway's status is what its nodes last reported, or `offline` when no heartbeat came for a while.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tollgate.control.deps import NameParam, StoreDep
from tollgate.control.pagination import PAGE_HEADERS, AfterParam, LimitParam, page_of, set_next
from tollgate.control.schemas import (
    DeployableKind,
    DeploymentInfo,
    DeploymentProblemInfo,
    DeployRequest,
    DeployResponse,
    GatewayInfo,
    GatewayWrite,
    OutcomeResponse,
    RestoreRequest,
)
from tollgate.errors import ResourceNotFoundError
from tollgate.resources.models import NAME_PATTERN, Gateway
from tollgate.store import DeploymentProblem, DeploymentRecord, GatewayRecord, Store

router = APIRouter()
#: Gateways heartbeat every 5 s; three missed beats make one `offline`.
OFFLINE_AFTER = timedelta(seconds=15)


def _gateway_info(record: GatewayRecord, now: datetime, problems: Sequence[DeploymentProblem] = ()) -> GatewayInfo:
    status = record.status
    if record.last_seen is not None and now - record.last_seen > OFFLINE_AFTER:
        status = "offline"
    return GatewayInfo(
        name=record.name,
        base_url=record.base_url,
        status=status,
        last_seen=record.last_seen,
        created_at=record.created_at,
        problems=[
            DeploymentProblemInfo(kind=p.kind, name=p.name, reason=p.reason, reported_at=p.reported_at)
            for p in problems
            if p.gateway == record.name
        ],
    )


def _problems(store: Store, gateway: str | None = None) -> dict[tuple[str, str, str], str]:
    return {(p.gateway, p.kind, p.name): p.reason for p in store.list_problems(gateway)}


def _base_urls(store: Store) -> dict[str, str]:
    return {g.name: g.base_url for g in store.list_gateways()}


def deployment_info(
    record: DeploymentRecord, base_urls: dict[str, str], problems: Mapping[tuple[str, str, str], str] | None = None
) -> DeploymentInfo:
    spec = record.spec.get("spec")
    context = spec.get("context") if isinstance(spec, dict) else None
    context = context if isinstance(context, str) else None
    base = base_urls.get(record.gateway)
    invoke = f"{base.rstrip('/')}{context}" if base and context and record.is_live else None
    return DeploymentInfo(
        gateway=record.gateway,
        kind=record.kind,
        name=record.name,
        revision=record.revision,
        context=context,
        invoke_url=invoke,
        live=record.is_live,
        deployed_at=record.deployed_at,
        undeployed_at=record.undeployed_at,
        problem=(problems or {}).get((record.gateway, record.kind, record.name)) if record.is_live else None,
    )


# --- gateways ------------------------------------------------------------------------------------


_PAGED: dict[int | str, dict[str, object]] = {200: {"headers": PAGE_HEADERS}}


@router.get("/gateways", tags=["gateways"], responses=_PAGED)
def list_gateways(
    store: StoreDep, request: Request, response: Response, after: AfterParam = None, limit: LimitParam = 500
) -> list[GatewayInfo]:
    now = datetime.now(UTC)
    problems = store.list_problems()
    page, cursor = page_of(store.list_gateways(), lambda g: g.name, after, limit)
    set_next(request, response, cursor, limit)
    return [_gateway_info(g, now, problems) for g in page]


@router.get("/gateways/{name}", tags=["gateways"])
def get_gateway(store: StoreDep, name: NameParam) -> GatewayInfo:
    for record in store.list_gateways():
        if record.name == name:
            return _gateway_info(record, datetime.now(UTC), store.list_problems(name))
    raise ResourceNotFoundError(f"no gateway named {name!r}")


@router.put("/gateways/{name}", tags=["gateways"])
def put_gateway(store: StoreDep, name: NameParam, body: GatewayWrite) -> OutcomeResponse:
    """Register a gateway (group of nodes) or change its public base URL (used in Invoke URLs)."""
    document = Gateway.model_validate({"metadata": {"name": name}, "spec": {"baseUrl": body.base_url}})
    outcome = store.apply_documents([document], deploy=False).results[0].outcome
    return OutcomeResponse(kind="Gateway", name=name, outcome=outcome)


@router.delete("/gateways/{name}", tags=["gateways"])
def delete_gateway(
    store: StoreDep,
    name: NameParam,
    force: Annotated[bool, Query(description="Undeploy everything live on it first (else 409).")] = False,
) -> list[DeploymentInfo]:
    """Remove a gateway: 409 while something is deployed on it, unless `force`, which undeploys it all
    (returned). Its nodes, if any still run, serve nothing from then on."""
    urls = _base_urls(store)
    return [deployment_info(d, urls) for d in store.delete_gateway(name, force=force)]


# --- deployments ---------------------------------------------------------------------------------


@router.get("/deployments", tags=["deployments"], responses=_PAGED)
def list_deployments(
    store: StoreDep,
    request: Request,
    response: Response,
    gateway: Annotated[str | None, Query(pattern=NAME_PATTERN, description="Only this gateway's.")] = None,
    after: AfterParam = None,
    limit: LimitParam = 500,
) -> list[DeploymentInfo]:
    """Live deployments with their Invoke URLs, by gateway, kind and name."""
    urls = _base_urls(store)
    problems = _problems(store, gateway)
    page, cursor = page_of(store.list_deployments(gateway), lambda d: f"{d.gateway}/{d.kind}/{d.name}", after, limit)
    set_next(request, response, cursor, limit)
    return [deployment_info(d, urls, problems) for d in page]


@router.post("/deployments", tags=["deployments"])
def deploy(store: StoreDep, body: DeployRequest) -> DeployResponse:
    """Deploy the stored document to a gateway: 409 if its context is taken there, 422 if a proxy's
    provider is not deployed there first, 404 if the resource or the gateway does not exist (unless
    createGateway)."""
    outcome = store.deploy(body.gateway, body.kind, body.name, create_gateway=body.create_gateway)
    live = store.deployment_history(body.gateway, body.kind, body.name)[-1]
    return DeployResponse(outcome=outcome, deployment=deployment_info(live, _base_urls(store)))


@router.delete("/deployments/{gateway}/{kind}/{name}", tags=["deployments"])
def undeploy(store: StoreDep, gateway: NameParam, kind: DeployableKind, name: NameParam) -> DeploymentInfo:
    """Stop serving at once (409 for a provider a live proxy on that gateway uses)."""
    return deployment_info(store.undeploy(gateway, kind, name), _base_urls(store))


@router.get("/deployments/{gateway}/{kind}/{name}/history", tags=["deployments"])
def history(store: StoreDep, gateway: NameParam, kind: DeployableKind, name: NameParam) -> list[DeploymentInfo]:
    """Every revision of a resource on a gateway, oldest first."""
    records = store.deployment_history(gateway, kind, name)
    if not records:
        raise ResourceNotFoundError(f"{kind} {name!r} was never deployed on gateway {gateway!r}")
    urls = _base_urls(store)
    return [deployment_info(d, urls) for d in records]


@router.post("/deployments/{gateway}/{kind}/{name}/restore", tags=["deployments"])
def restore(
    store: StoreDep, gateway: NameParam, kind: DeployableKind, name: NameParam, body: RestoreRequest
) -> DeploymentInfo:
    """Make an earlier revision current again (validated like any apply) and deploy it."""
    return deployment_info(store.restore_deployment(gateway, kind, name, body.revision), _base_urls(store))
