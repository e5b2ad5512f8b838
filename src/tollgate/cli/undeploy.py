"""`tollgate undeploy KIND NAME`: stop serving a provider or proxy on a gateway, at once."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._kinds import deployable_kind


@click.command()
@click.argument("kind")
@click.argument("name")
@click.option("--gateway", "-g", default="default", show_default=True)
@api_command
def undeploy(app: Application, kind: str, name: str, gateway: str) -> None:
    """Undeploy (refused for a provider that a proxy deployed on the same gateway uses)."""
    doc_kind = deployable_kind(kind)
    record = app.call(lambda c: c.delete(f"/deployments/{gateway}/{doc_kind}/{name}"))
    if app.output != "table":
        app.emit(record)
        return
    click.echo(f"{doc_kind} {name} on {gateway}: undeployed (revision {record['revision']})")
