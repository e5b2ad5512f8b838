"""The audit hook of the management API: one dependency records every successful change, by whom.

Before a write operation runs, the hook reads the documents of what it addresses (`plan`: from the
path, and for apply and deploy from the body); after it succeeds, it reads them again and appends one
entry per thing that differs (nothing for a no-op). Before and after are read in their own short
transactions just around the operation, so under concurrent writers to the same object they show the
states nearest to it, not necessarily its exact pre-image. Operations it cannot plan still get an
entry (no documents). Secret values are never read; `mask` hides any that a document carries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from tollgate.control.auth import Principal, require_permission
from tollgate.control.body import json_body
from tollgate.control.permissions import relative
from tollgate.store.audit_log import Change
from tollgate.store.audit_state import EVERY, MASK, Selector
from tollgate.store.records import STORED_KINDS
from tollgate.types import JSONObject, JSONValue

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Operations that record their own changes (`apply_run.run_apply`): an apply may finish after its request
#: (a job), and a large one's before/after reads need to happen around its chunks, off the event loop.
SELF_AUDITED = frozenset({"/apply"})
_COLLECTION_KINDS = {"templates": "ProviderTemplate", "providers": "LLMProvider", "proxies": "LLMProxy"}
#: Spec fields whose value is a secret wherever they appear; header maps whose credential-looking values are.
_SECRET_FIELDS = frozenset({"value", "password", "token", "apikey", "api_key"})
_HEADER_MAPS = frozenset({"defaultHeaders", "headers"})
_CREDENTIAL_HINTS = ("auth", "key", "token", "secret", "cookie", "password")


@dataclass(frozen=True, slots=True)
class Plan:
    """What a write operation addresses: `selectors` to read around it; `verb` names a POST action."""

    selectors: tuple[Selector, ...]
    verb: str | None = None
    main_kind: str = ""


def mask(value: JSONValue, key: str = "") -> JSONValue:
    """A copy of a document with secret values replaced by MASK (field names decide, not values)."""
    if isinstance(value, dict):
        if key in _HEADER_MAPS:
            return {k: MASK if any(h in k.lower() for h in _CREDENTIAL_HINTS) else v for k, v in value.items()}
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item, key) for item in value]
    if isinstance(value, str) and key.lower() in _SECRET_FIELDS:
        return MASK
    return value


def _apply_plan(body: Mapping[str, Any]) -> Plan:
    """Each document's thing; with `gateway`, that gateway and the deployments; with `prune`, every
    template, provider, proxy, deployment and key (a prune deletes what the batch does not name)."""
    names: dict[str, list[str]] = {}
    for document in body.get("documents") or []:
        if isinstance(document, dict) and isinstance(document.get("metadata"), dict):
            names.setdefault(str(document.get("kind")), []).append(str(document["metadata"].get("name")))
    if body.get("prune"):
        whole = tuple(Selector(kind, where=EVERY) for kind in (*STORED_KINDS, "Deployment", "APIKey"))
        rest = [Selector(kind, tuple(found)) for kind, found in names.items() if kind not in (*STORED_KINDS, "APIKey")]
        return Plan((*whole, *rest))
    selectors = [Selector(kind, tuple(found)) for kind, found in names.items() if kind != "APIKey"]
    selectors += [Selector("APIKey", where=(("name", n),)) for n in names.get("APIKey", [])]
    deployable = tuple(names.get("LLMProvider", []) + names.get("LLMProxy", []))
    if deployable:
        selectors.append(Selector("Deployment", deployable))
    if isinstance(body.get("gateway"), str) and "Gateway" not in names:
        selectors.append(Selector("Gateway", (body["gateway"],)))
    return Plan(tuple(selectors))


def plan(method: str, path: str, params: Mapping[str, str], body: object) -> Plan | None:
    """The selectors of a write operation (`path` is the route's template), or None when unknown."""
    parts = relative(path).strip("/").split("/")
    collection, rest = parts[0], parts[1:]
    data = body if isinstance(body, dict) else {}
    name = params.get("name", "")
    verb = rest[-1] if len(rest) >= 2 and not rest[-1].startswith("{") else None
    if collection == "apply":
        return _apply_plan(data)
    if collection in _COLLECTION_KINDS and rest == ["{name}"]:
        kind = _COLLECTION_KINDS[collection]
        found = [Selector(kind, (name,))]
        if kind != "ProviderTemplate":  # deleted or redeployed where live; a deletion revokes keys
            found += [Selector("Deployment", (name,), (("kind", kind),))]
            found += [Selector("APIKey", where=(("target_kind", kind), ("target_name", name)))]
        return Plan(tuple(found), main_kind=kind)
    if collection == "secrets":
        return Plan((Selector("Secret", (name,)),), main_kind="Secret") if rest == ["{name}"] else None
    if collection == "keys":
        if "key_id" in params:
            return Plan((Selector("APIKey", (params["key_id"],)),), verb, "APIKey")
        target = data.get("target")
        target = target if isinstance(target, dict) else {}
        where = (("target_kind", str(target.get("kind"))), ("target_name", str(target.get("name"))))
        return Plan((Selector("APIKey", where=(*where, ("name", str(data.get("name"))))),), main_kind="APIKey")
    if collection == "gateways" and rest == ["{name}"]:
        return Plan((Selector("Gateway", (name,)), Selector("Deployment", where=(("gateway", name),))), None, "Gateway")
    if collection == "deployments":
        gateway = params.get("gateway") or str(data.get("gateway") or "default")
        kind = params.get("kind") or str(data.get("kind"))
        target = params.get("name") or str(data.get("name"))
        live = Selector("Deployment", (target,), (("gateway", gateway), ("kind", kind)))
        return Plan((live, Selector(kind, (target,))), verb, "Deployment")
    if collection == "users" and "name" in params:
        return Plan((Selector("User", (name,)), Selector("Token", where=(("user", name),))), verb, "User")
    if collection == "users":
        return Plan((Selector("User", (str(data.get("name")),)),), main_kind="User")
    if collection == "tokens" and "token_id" in params:
        return Plan((Selector("Token", (params["token_id"],)),), verb, "Token")
    if collection == "tokens":
        return Plan((Selector("Token", where=(("user", str(data.get("user") or "")),)),), main_kind="Token")
    return None


def _action(kind: str, before: JSONObject | None, after: JSONObject | None, verb: str | None, main: str) -> str:
    if verb is not None and kind == main:
        return verb
    if kind == "Deployment":
        return "deploy" if before is None else "undeploy" if after is None else "redeploy"
    return "create" if before is None else "delete" if after is None else "update"


State = Mapping[tuple[str, str], JSONObject]


def changes(found: Plan, before: State, after: State) -> list[Change]:
    """One change per thing whose document differs (in selector order, then by name)."""
    result: list[Change] = []
    for kind, name in sorted(set(before) | set(after), key=lambda k: (_order(found, k[0]), k[1])):
        old, new = before.get((kind, name)), after.get((kind, name))
        if old == new:
            continue
        old_doc = mask(old) if old is not None else None
        new_doc = mask(new) if new is not None else None
        action = _action(kind, old, new, found.verb, found.main_kind)
        result.append(Change(action, kind, name, old_doc, new_doc))  # type: ignore[arg-type]
    return result


def _order(found: Plan, kind: str) -> int:
    kinds = [s.kind for s in found.selectors]
    return kinds.index(kind) if kind in kinds else len(kinds)


def _unplanned(method: str, path: str, params: Mapping[str, str]) -> Change:
    parts = relative(path).strip("/").split("/")
    name = "/".join(params.values()) or "*"
    action = parts[-1] if len(parts) > 1 and not parts[-1].startswith("{") else method.lower()
    return Change(action, parts[0], name, None, None)


async def record_changes(
    request: Request, principal: Annotated[Principal, Depends(require_permission)]
) -> AsyncIterator[None]:
    """FastAPI dependency (scope "function"): around each write operation, append what it changed."""
    if request.method in _READS:
        yield
        return
    path = request.scope["route"].path_format
    if relative(path) in SELF_AUDITED:
        yield
        return
    params = {k: str(v) for k, v in request.path_params.items()}
    body = await json_body(request)
    audit = request.app.state.store.audit
    found = plan(request.method, path, params, body)
    before = await run_in_threadpool(audit.snapshot, found.selectors) if found is not None else {}
    yield
    if found is None:
        entries = [_unplanned(request.method, path, params)]
    else:
        after = await run_in_threadpool(audit.snapshot, found.selectors)
        # Comparing and masking 10,000 documents takes a while: off the event loop, so other requests go on.
        entries = await run_in_threadpool(changes, found, before, after)
    await run_in_threadpool(audit.append, principal.actor, request.method, request.url.path, entries)
