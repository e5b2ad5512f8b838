"""Templates, providers and proxies: list, read, create-or-replace (PUT, idempotent) and delete.

A PUT body is the same document as in YAML; `kind` and `apiVersion` may be left out. A change to a
provider or proxy is redeployed where it is live (unless `redeploy=false`), so it reaches the gateways.
Every document carries `metadata.resourceVersion` (also the `ETag`); a PUT or DELETE given a version
(If-Match, or the body's resourceVersion) acts only on exactly that version, else 409.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response

from tollgate.control.deps import NameParam, StoreDep
from tollgate.control.pagination import PAGE_HEADERS, AfterParam, LimitParam, decode_cursor, page_of, set_next
from tollgate.control.schemas import OutcomeResponse, TemplateInfo
from tollgate.control.strings import reject_nul
from tollgate.control.versions import IfMatchHeader, merged_version, parse_if_match, set_etag
from tollgate.errors import ResourceNotFoundError, ResourceValidationError
from tollgate.resources.models import LLMProvider, LLMProxy, ProviderTemplate, Resource
from tollgate.resources.selectors import Selector, parse_selector
from tollgate.store import Store

router = APIRouter()
_R = TypeVar("_R", ProviderTemplate, LLMProvider, LLMProxy)

_PUT_DOC = (
    "Create or replace (idempotent: `unchanged` when identical). The name in the body must be the one in the URL "
    "(422 on `metadata.name`); references must exist (template, secret, provider: 422 naming the field); the "
    "context must look like `/name` or `/a/b` and be free (422 on `spec.context`). With If-Match or "
    "`metadata.resourceVersion`, only that version is replaced (409 if it is stale)."
)
_PAGED: dict[int | str, dict[str, Any]] = {200: {"headers": PAGE_HEADERS}}
_VERSIONED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"ETag": {"description": "The resourceVersion, quoted.", "schema": {"type": "string"}}}}
}

_KEY = r"([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?"
_MEMBER = r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?"
_TERM = (
    rf"( *!? *{_KEY} *| *{_KEY} *(=|==|!=) *{_VALUE} *"
    rf"| *{_KEY} +(in|notin) +\( *{_MEMBER} *(, *{_MEMBER} *)*\) *)"
)
#: The selector grammar as a regex, so the OpenAPI document (and generated clients) know it.
SELECTOR_PATTERN = rf"^({_TERM}(,{_TERM})*)?$"

SelectorParam = Annotated[
    str | None,
    Query(
        alias="labelSelector",
        max_length=1024,
        pattern=SELECTOR_PATTERN,
        description="Only resources whose labels match: `team=a,tier!=dev,owner,!legacy,env in (a,b)`.",
    ),
]
VersionParam = Annotated[
    str | None,
    Query(
        alias="resourceVersion",
        pattern=r"^[0-9]{1,18}$",
        description="Delete only this version (as If-Match): 409 if the resource changed since.",
    ),
]


def selector_of(text: str | None) -> Selector | None:
    if text is None:
        return None
    try:
        return parse_selector(text)
    except ValueError as exc:
        raise ResourceValidationError("request query", "labelSelector", str(exc)) from None


def _put(
    store: Store, name: str, document: Resource, redeploy: bool, if_match: str | None, response: Response
) -> OutcomeResponse:
    label = f"{document.kind} {name!r}"
    if document.metadata.name != name:
        raise ResourceValidationError(
            label, "metadata.name", f"is {document.metadata.name!r} but the URL names {name!r}"
        )
    reject_nul(document.model_dump(mode="json", by_alias=True), label)
    version = merged_version(parse_if_match(if_match, label), document.metadata.resource_version, label)
    document = document.model_copy(
        update={"metadata": document.metadata.model_copy(update={"resource_version": version})}
    )
    result = store.apply_documents([document], deploy=False, redeploy=redeploy).results[0]
    set_etag(response, result.resource_version)
    return OutcomeResponse(
        kind=document.kind, name=name, outcome=result.outcome, resource_version=result.resource_version
    )


def _get(store: Store, kind: type[_R], name: str, response: Response) -> _R:
    resource = store.get_resource(kind.__name__, name)
    if not isinstance(resource, kind):  # pragma: no cover - the store returns the kind asked for
        raise ResourceNotFoundError(f"no {kind.__name__} named {name!r}")
    set_etag(response, resource.metadata.resource_version)
    return resource


def _page(
    store: Store,
    kind: type[_R],
    request: Request,
    response: Response,
    after: str | None,
    limit: int,
    selector: str | None,
) -> list[_R]:
    items, cursor = store.page_resources(
        kind.__name__, after=decode_cursor(after), limit=limit, selector=selector_of(selector)
    )
    set_next(request, response, cursor, limit)
    return [r for r in items if isinstance(r, kind)]


def _delete(store: Store, kind: str, name: str, if_match: str | None, version: str | None) -> Response:
    label = f"{kind} {name!r}"
    expected = merged_version(parse_if_match(if_match, label), version, label)
    store.delete_resource(kind, name, expected_version=None if expected is None else int(expected))
    return Response(status_code=204)


# --- templates -----------------------------------------------------------------------------------


@router.get("/templates", tags=["templates"], response_model=list[TemplateInfo], responses=_PAGED)
def list_templates(
    store: StoreDep, request: Request, response: Response, after: AfterParam = None, limit: LimitParam = 500
) -> list[TemplateInfo]:
    """Built-in templates and custom ProviderTemplates, by name."""
    builtin = [TemplateInfo(name=n, builtin=True, base_url=u) for n, u in sorted(store.known_templates.items())]
    custom = [
        TemplateInfo(name=t.metadata.name, builtin=False, base_url=t.spec.base_url)
        for t in store.list_resources("ProviderTemplate")
        if isinstance(t, ProviderTemplate)
    ]
    page, cursor = page_of(builtin + custom, lambda t: t.name, after, limit)
    set_next(request, response, cursor, limit)
    return page


@router.get("/templates/{name}", tags=["templates"], response_model=ProviderTemplate, responses=_VERSIONED)
def get_template(store: StoreDep, name: NameParam, response: Response) -> ProviderTemplate:
    """A custom template's document (built-in templates are listed, not stored)."""
    return _get(store, ProviderTemplate, name, response)


# --- providers -----------------------------------------------------------------------------------


@router.get("/providers", tags=["providers"], response_model=list[LLMProvider], responses=_PAGED)
def list_providers(
    store: StoreDep,
    request: Request,
    response: Response,
    after: AfterParam = None,
    limit: LimitParam = 500,
    label_selector: SelectorParam = None,
) -> list[LLMProvider]:
    """Providers by name, a page at a time, optionally filtered by label selector."""
    return _page(store, LLMProvider, request, response, after, limit, label_selector)


@router.get("/providers/{name}", tags=["providers"], response_model=LLMProvider, responses=_VERSIONED)
def get_provider(store: StoreDep, name: NameParam, response: Response) -> LLMProvider:
    return _get(store, LLMProvider, name, response)


# --- proxies -------------------------------------------------------------------------------------


@router.get("/proxies", tags=["proxies"], response_model=list[LLMProxy], responses=_PAGED)
def list_proxies(
    store: StoreDep,
    request: Request,
    response: Response,
    after: AfterParam = None,
    limit: LimitParam = 500,
    label_selector: SelectorParam = None,
) -> list[LLMProxy]:
    """Proxies by name, a page at a time, optionally filtered by label selector."""
    return _page(store, LLMProxy, request, response, after, limit, label_selector)


@router.get("/proxies/{name}", tags=["proxies"], response_model=LLMProxy, responses=_VERSIONED)
def get_proxy(store: StoreDep, name: NameParam, response: Response) -> LLMProxy:
    return _get(store, LLMProxy, name, response)


# --- writes: PUT and DELETE, the same for each kind ------------------------------------------------


def _add_writes(collection: str, kind: type[_R], singular: str, *, redeploys: bool, delete_doc: str) -> None:
    """PUT and DELETE /{collection}/{name} for `kind`. The endpoints are named put_/delete_{singular}, as
    when they were written out per kind, so their operationIds (and generated clients) are unchanged."""
    tag = collection.strip("/")

    def put(
        store: StoreDep,
        name: NameParam,
        document: Resource,
        response: Response,
        redeploy: bool = True,
        if_match: IfMatchHeader = None,
    ) -> OutcomeResponse:
        return _put(store, name, document, redeploy and redeploys, if_match, response)

    def delete(
        store: StoreDep, name: NameParam, if_match: IfMatchHeader = None, resource_version: VersionParam = None
    ) -> Response:
        return _delete(store, kind.__name__, name, if_match, resource_version)

    put.__annotations__["document"] = kind  # the body FastAPI validates and documents
    if not redeploys:  # templates are not deployed: no `redeploy` parameter
        signature = inspect.signature(put)
        put.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "redeploy"]
        )
    put.__name__ = put.__qualname__ = f"put_{singular}"
    delete.__name__ = delete.__qualname__ = f"delete_{singular}"
    delete.__doc__ = delete_doc
    path = f"{collection}/{{name}}"
    router.put(path, tags=[tag], description=_PUT_DOC, responses=_VERSIONED)(put)
    router.delete(path, tags=[tag], status_code=204)(delete)


_add_writes(
    "/templates",
    ProviderTemplate,
    "template",
    redeploys=False,
    delete_doc="Refused (409) while a provider uses the template, or when the given version is stale.",
)
_add_writes(
    "/providers",
    LLMProvider,
    "provider",
    redeploys=True,
    delete_doc="Refused (409) while a proxy uses the provider or when the given version is stale; otherwise\n"
    "undeployed everywhere and its keys revoked.",
)
_add_writes(
    "/proxies",
    LLMProxy,
    "proxy",
    redeploys=True,
    delete_doc="Undeployed everywhere and its keys revoked (409 when the given version is stale).",
)
