"""`tollgate describe KIND NAME`: one resource's full document plus where it runs and its keys."""

from __future__ import annotations

from typing import Any

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._kinds import COLLECTIONS, collection
from tollgate.control.client import ManagementClient


@click.command()
@click.argument("kind")
@click.argument("name")
@api_command
def describe(app: Application, kind: str, name: str) -> None:
    """Show everything about one resource: its document, live deployments (Invoke URLs) and API keys."""
    canonical = collection(kind)
    path, doc_kind = COLLECTIONS[canonical]

    def fetch(client: ManagementClient) -> dict[str, Any]:
        item = client.get(f"/{path}/{name}")
        if doc_kind not in ("LLMProvider", "LLMProxy"):
            return {canonical[:-1]: item}
        deployments = [d for d in client.get("/deployments") if (d["kind"], d["name"]) == (doc_kind, name)]
        keys = client.get("/keys", kind=doc_kind, target=name)
        provider = client.get(f"/providers/{item['spec']['provider']}") if doc_kind == "LLMProxy" else item
        return {"document": item, "deployments": deployments, "keys": keys, "policies": _chain(provider, item)}

    data = app.call(fetch)
    if app.output != "table" or "document" not in data:
        app.emit(data)
        return
    app.emit(data["document"])
    click.echo("\nDeployments:")
    for d in data["deployments"] or [{"gateway": "-", "revision": "-", "invokeUrl": "(not deployed)"}]:
        problem = f"  NOT SERVED: {d['problem']}" if d.get("problem") else ""
        click.echo(f"  {d['gateway']}  revision {d['revision']}  {d.get('invokeUrl') or '-'}{problem}")
    click.echo("\nPolicies (effective chain; request order, responses in reverse):")
    for p in data["policies"] or [{"from": "", "name": "(none)", "paths": ""}]:
        click.echo(f"  {p['from']:<28} {p['name']:<26} {p['paths']}".rstrip())
    click.echo("\nAPI keys:")
    for k in data["keys"] or [{"id": "-", "name": "(none)", "masked": "", "status": ""}]:
        click.echo(f"  {k['id']}  {k['name']}  {k['masked']}  {k['status']}")


def _chain(provider: dict[str, Any], document: dict[str, Any]) -> list[dict[str, str]]:
    """The provider's policies (the baseline) then, for a proxy, its own: the order the gateway runs them."""
    docs = [provider] if provider is document else [provider, document]
    chain: list[dict[str, str]] = []
    for doc in docs:
        owner = f"{doc['kind']}/{doc['metadata']['name']}"
        for i, ref in enumerate(doc["spec"].get("policies") or []):
            paths = ", ".join(
                p["path"] + (f" {','.join(p['methods'])}" if p.get("methods") else "") for p in ref.get("paths") or []
            )
            chain.append({"from": f"{owner}#{i}", "name": ref["name"], "paths": paths or "all paths"})
    return chain
