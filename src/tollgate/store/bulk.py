"""Set-at-a-time writes for applies: templates, providers and proxies stored and deployed in a few
statements per chunk instead of several per document.

Same rules as the one-at-a-time functions (`resource_rows.upsert`, `apply.deploy_current`): a
resourceVersion precondition per document, "unchanged" when the canonical document is equal, a
proxy's provider live on the gateway first, one live context per gateway (shadowing is checked by
the caller, `apply.check_shadowing`, once per batch). Lookups are IN queries on
indexed columns, at most `IN_BATCH` names each, so a chunk costs the same whatever the store holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from tollgate.errors import ResourceConflictError, ResourceValidationError
from tollgate.resources.models import LLMProxy, Resource
from tollgate.store import deployment_rows
from tollgate.store.records import Outcome
from tollgate.store.resource_rows import canonical, check_version, context_of, document, expected_version
from tollgate.store.schema import deployments, resources
from tollgate.store.tx import WriteTx

IN_BATCH = 500
Key = tuple[str, str]


def _batches(names: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(names))
    for start in range(0, len(ordered), IN_BATCH):
        yield ordered[start : start + IN_BATCH]


def upsert_many(tx: WriteTx, docs: Sequence[Resource]) -> dict[Key, tuple[Outcome, int]]:
    """Create or replace stored documents; (outcome, resourceVersion) per (kind, name)."""
    existing: dict[Key, Any] = {}
    for kind in {doc.kind for doc in docs}:
        for names in _batches(doc.metadata.name for doc in docs if doc.kind == kind):
            query = select(
                resources.c.id,
                resources.c.name,
                resources.c.metadata,
                resources.c.spec,
                resources.c.generation,
                resources.c.resource_version,
            ).where(resources.c.kind == kind, resources.c.name.in_(names))
            existing.update({(kind, row.name): row for row in tx.conn.execute(query)})
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    outcomes: dict[Key, tuple[Outcome, int]] = {}
    for doc in docs:
        key = (doc.kind, doc.metadata.name)
        row = existing.get(key)
        check_version(
            f"{doc.kind} {doc.metadata.name!r}",
            None if row is None else int(row.resource_version),
            expected_version(doc),
        )
        data = document(doc)
        meta, spec = data["metadata"], data["spec"]
        if row is None:
            inserts.append(
                {
                    "kind": doc.kind,
                    "name": doc.metadata.name,
                    "metadata": meta,
                    "spec": spec,
                    "context": context_of(doc),
                }
            )
            outcomes[key] = ("created", 0)
        elif canonical({"m": row.metadata, "s": row.spec}) == canonical({"m": meta, "s": spec}):
            outcomes[key] = ("unchanged", int(row.resource_version))
        else:
            updates.append(
                {
                    "b_id": row.id,
                    "b_metadata": meta,
                    "b_spec": spec,
                    "b_generation": row.generation + 1,
                    "b_context": context_of(doc),
                }
            )
            outcomes[key] = ("changed", 0)
    if not inserts and not updates:
        return outcomes
    version = tx.bump()
    if inserts:
        common = {"generation": 1, "created_at": tx.now, "updated_at": tx.now, "resource_version": version}
        tx.conn.execute(insert(resources), [{**row, **common} for row in inserts])
    if updates:
        statement = (
            update(resources)
            .where(resources.c.id == bindparam("b_id"))
            .values(
                metadata=bindparam("b_metadata"),
                spec=bindparam("b_spec"),
                generation=bindparam("b_generation"),
                context=bindparam("b_context"),
                updated_at=tx.now,
                resource_version=version,
            )
        )
        tx.conn.execute(statement, updates)
    return {
        key: (outcome, version if outcome != "unchanged" else current) for key, (outcome, current) in outcomes.items()
    }


def _by_kind(keys: Iterable[Key]) -> Iterable[tuple[str, list[str]]]:
    """(kind, up to IN_BATCH names): lookups name the kind too, so they use the (kind, name) indexes
    instead of filtering every live deployment of the gateway (which grows with the store)."""
    names: dict[str, set[str]] = {}
    for kind, name in keys:
        names.setdefault(kind, set()).add(name)
    for kind in sorted(names):
        for batch in _batches(names[kind]):
            yield kind, batch


def _live(conn: Connection, gateway: str, keys: Iterable[Key]) -> dict[Key, Any]:
    found: dict[Key, Any] = {}
    for kind, batch in _by_kind(keys):
        query = select(deployments.c.kind, deployments.c.name, deployments.c.spec, deployments.c.context).where(
            deployments.c.kind == kind,
            deployments.c.name.in_(batch),
            deployments.c.gateway == gateway,
            deployments.c.undeployed_at.is_(None),
        )
        found.update({(row.kind, row.name): row for row in conn.execute(query)})
    return found


def _context_owners(conn: Connection, gateway: str, contexts: Iterable[str]) -> dict[str, Key]:
    owners: dict[str, Key] = {}
    for batch in _batches(contexts):
        query = select(deployments.c.kind, deployments.c.name, deployments.c.context).where(
            deployments.c.gateway == gateway, deployments.c.undeployed_at.is_(None), deployments.c.context.in_(batch)
        )
        owners.update({row.context: (row.kind, row.name) for row in conn.execute(query)})
    return owners


def _last_revisions(conn: Connection, gateway: str, keys: Iterable[Key]) -> dict[Key, int]:
    found: dict[Key, int] = {}
    for kind, batch in _by_kind(keys):
        query = (
            select(deployments.c.kind, deployments.c.name, func.max(deployments.c.revision).label("last"))
            .where(deployments.c.kind == kind, deployments.c.name.in_(batch), deployments.c.gateway == gateway)
            .group_by(deployments.c.kind, deployments.c.name)
        )
        found.update({(row.kind, row.name): int(row.last) for row in conn.execute(query)})
    return found


def deploy_many(tx: WriteTx, gateway: str, docs: Sequence[Resource]) -> None:
    """Deploy stored providers and proxies (`docs`, providers first) to `gateway` in a few statements."""
    if not docs:
        return
    deployment_rows.ensure_gateway(tx, gateway)
    providers = {("LLMProvider", doc.spec.provider) for doc in docs if isinstance(doc, LLMProxy)}
    live = _live(tx.conn, gateway, {(doc.kind, doc.metadata.name) for doc in docs} | providers)
    owners = _context_owners(tx.conn, gateway, {c for doc in docs if (c := context_of(doc)) is not None})
    serving: set[Key] = {key for key in live if key[0] == "LLMProvider"}
    changed: list[Key] = []
    fresh: list[tuple[Key, dict[str, Any], str | None]] = []
    for doc in docs:
        key = (doc.kind, doc.metadata.name)
        if isinstance(doc, LLMProxy) and ("LLMProvider", doc.spec.provider) not in serving:
            raise ResourceValidationError(
                f"LLMProxy {doc.metadata.name!r}",
                "spec.provider",
                f"LLMProvider {doc.spec.provider!r} is not deployed on gateway {gateway!r}; deploy it first",
            )
        context = context_of(doc)
        owner = owners.get(context) if context is not None else None
        if owner is not None and owner != key:
            raise ResourceConflictError(
                f"{doc.kind} {doc.metadata.name!r}: context {context!r} is already served on gateway {gateway!r} "
                f"by {owner[0]} {owner[1]!r}"
            )
        spec = document(doc)
        current = live.get(key)
        if doc.kind == "LLMProvider":
            serving.add(key)
        if current is not None and canonical(current.spec) == canonical(spec):
            continue
        if current is not None:
            changed.append(key)
            if current.context is not None and owners.get(current.context) == key:
                del owners[current.context]
        if context is not None:
            owners[context] = key
        fresh.append((key, spec, context))
    if not fresh:
        return
    if changed:
        statement = (
            update(deployments)
            .where(
                deployments.c.gateway == gateway,
                deployments.c.kind == bindparam("b_kind"),
                deployments.c.name == bindparam("b_name"),
                deployments.c.undeployed_at.is_(None),
            )
            .values(undeployed_at=tx.now)
        )
        tx.conn.execute(statement, [{"b_kind": kind, "b_name": name} for kind, name in changed])
    last = _last_revisions(tx.conn, gateway, {key for key, _, _ in fresh})
    rows = [
        {
            "gateway": gateway,
            "kind": kind,
            "name": name,
            "revision": last.get((kind, name), 0) + 1,
            "spec": spec,
            "deployed_at": tx.now,
            "context": context,
        }
        for (kind, name), spec, context in fresh
    ]
    tx.conn.execute(insert(deployments), rows)
    tx.bump()


def live_gateways(conn: Connection, docs: Sequence[Resource]) -> dict[str, list[Resource]]:
    """gateway -> those of `docs` live there (for redeploying changed documents where they run)."""
    keys = {(doc.kind, doc.metadata.name) for doc in docs}
    found: dict[str, set[Key]] = {}
    for kind, batch in _by_kind(keys):
        query = select(deployments.c.gateway, deployments.c.kind, deployments.c.name).where(
            deployments.c.kind == kind, deployments.c.name.in_(batch), deployments.c.undeployed_at.is_(None)
        )
        for row in conn.execute(query):
            found.setdefault(row.gateway, set()).add((row.kind, row.name))
    # in the order of `docs` (providers first); by key: comparing documents is slow and quadratic here
    return {gateway: [d for d in docs if (d.kind, d.metadata.name) in live] for gateway, live in found.items()}
