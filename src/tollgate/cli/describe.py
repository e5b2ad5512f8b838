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
        return {"document": item, "deployments": deployments, "keys": keys}

    data = app.call(fetch)
    if app.output != "table" or "document" not in data:
        app.emit(data)
        return
    app.emit(data["document"])
    click.echo("\nDeployments:")
    for d in data["deployments"] or [{"gateway": "-", "revision": "-", "invokeUrl": "(not deployed)"}]:
        problem = f"  NOT SERVED: {d['problem']}" if d.get("problem") else ""
        click.echo(f"  {d['gateway']}  revision {d['revision']}  {d.get('invokeUrl') or '-'}{problem}")
    click.echo("\nAPI keys:")
    for k in data["keys"] or [{"id": "-", "name": "(none)", "masked": "", "status": ""}]:
        click.echo(f"  {k['id']}  {k['name']}  {k['masked']}  {k['status']}")
