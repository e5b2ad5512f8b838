"""Templates, providers and proxies: list, read, create-or-replace (PUT, idempotent) and delete.

A PUT body is the same document as in YAML; `kind` and `apiVersion` may be left out. A change to a
provider or proxy is redeployed where it is live (unless `redeploy=false`), so it reaches the gateways.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Response

from tollgate.control.deps import NameParam, StoreDep
from tollgate.control.schemas import OutcomeResponse, TemplateInfo
from tollgate.control.strings import reject_nul
from tollgate.errors import ResourceNotFoundError, ResourceValidationError
from tollgate.resources.models import LLMProvider, LLMProxy, ProviderTemplate, Resource
from tollgate.store import Store

router = APIRouter()
_R = TypeVar("_R", ProviderTemplate, LLMProvider, LLMProxy)


def _put(store: Store, name: str, document: Resource, redeploy: bool) -> OutcomeResponse:
    if document.metadata.name != name:
        raise ResourceValidationError(
            f"{document.kind} {name!r}", "metadata.name", f"is {document.metadata.name!r} but the URL names {name!r}"
        )
    reject_nul(document.model_dump(mode="json", by_alias=True), f"{document.kind} {name!r}")
    report = store.apply_documents([document], deploy=False, redeploy=redeploy)
    return OutcomeResponse(kind=document.kind, name=name, outcome=report.results[0].outcome)


def _get(store: Store, kind: type[_R], name: str) -> _R:
    resource = store.get_resource(kind.__name__, name)
    if not isinstance(resource, kind):  # pragma: no cover - the store returns the kind asked for
        raise ResourceNotFoundError(f"no {kind.__name__} named {name!r}")
    return resource


def _all(store: Store, kind: type[_R]) -> list[_R]:
    return [r for r in store.list_resources(kind.__name__) if isinstance(r, kind)]


# --- templates -----------------------------------------------------------------------------------


@router.get("/templates", tags=["templates"], response_model=list[TemplateInfo])
def list_templates(store: StoreDep) -> list[TemplateInfo]:
    """Built-in templates and custom ProviderTemplates, by name."""
    builtin = [TemplateInfo(name=n, builtin=True, base_url=u) for n, u in sorted(store.known_templates.items())]
    custom = [
        TemplateInfo(name=t.metadata.name, builtin=False, base_url=t.spec.base_url)
        for t in _all(store, ProviderTemplate)
    ]
    return builtin + custom


@router.get("/templates/{name}", tags=["templates"], response_model=ProviderTemplate)
def get_template(store: StoreDep, name: NameParam) -> ProviderTemplate:
    """A custom template's document (built-in templates are listed, not stored)."""
    return _get(store, ProviderTemplate, name)


@router.put("/templates/{name}", tags=["templates"])
def put_template(store: StoreDep, name: NameParam, document: ProviderTemplate) -> OutcomeResponse:
    return _put(store, name, document, redeploy=False)


@router.delete("/templates/{name}", tags=["templates"], status_code=204)
def delete_template(store: StoreDep, name: NameParam) -> Response:
    """Refused (409) while a provider uses the template."""
    store.delete_resource("ProviderTemplate", name)
    return Response(status_code=204)


# --- providers -----------------------------------------------------------------------------------


@router.get("/providers", tags=["providers"], response_model=list[LLMProvider])
def list_providers(store: StoreDep) -> list[LLMProvider]:
    return _all(store, LLMProvider)


@router.get("/providers/{name}", tags=["providers"], response_model=LLMProvider)
def get_provider(store: StoreDep, name: NameParam) -> LLMProvider:
    return _get(store, LLMProvider, name)


@router.put("/providers/{name}", tags=["providers"])
def put_provider(store: StoreDep, name: NameParam, document: LLMProvider, redeploy: bool = True) -> OutcomeResponse:
    return _put(store, name, document, redeploy)


@router.delete("/providers/{name}", tags=["providers"], status_code=204)
def delete_provider(store: StoreDep, name: NameParam) -> Response:
    """Refused (409) while a proxy uses the provider; otherwise undeployed everywhere and its keys revoked."""
    store.delete_resource("LLMProvider", name)
    return Response(status_code=204)


# --- proxies -------------------------------------------------------------------------------------


@router.get("/proxies", tags=["proxies"], response_model=list[LLMProxy])
def list_proxies(store: StoreDep) -> list[LLMProxy]:
    return _all(store, LLMProxy)


@router.get("/proxies/{name}", tags=["proxies"], response_model=LLMProxy)
def get_proxy(store: StoreDep, name: NameParam) -> LLMProxy:
    return _get(store, LLMProxy, name)


@router.put("/proxies/{name}", tags=["proxies"])
def put_proxy(store: StoreDep, name: NameParam, document: LLMProxy, redeploy: bool = True) -> OutcomeResponse:
    return _put(store, name, document, redeploy)


@router.delete("/proxies/{name}", tags=["proxies"], status_code=204)
def delete_proxy(store: StoreDep, name: NameParam) -> Response:
    """Undeployed everywhere and its keys revoked."""
    store.delete_resource("LLMProxy", name)
    return Response(status_code=204)
