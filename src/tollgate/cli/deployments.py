"""`tollgate deployments list|history|restore`: what runs where, every past revision, and rollback."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._columns import DEPLOYMENT_COLUMNS
from tollgate.cli._kinds import deployable_kind


@click.group()
def deployments() -> None:
    """Live deployments with Invoke URLs, revision history and restore."""


@deployments.command("list")
@click.option("--gateway", "-g", default=None, help="Only this gateway's deployments.")
@api_command
def list_deployments(app: Application, gateway: str | None) -> None:
    app.emit(app.call(lambda c: c.get("/deployments", gateway=gateway)), DEPLOYMENT_COLUMNS)


@deployments.command("history")
@click.argument("kind")
@click.argument("name")
@click.option("--gateway", "-g", default="default", show_default=True)
@api_command
def history(app: Application, kind: str, name: str, gateway: str) -> None:
    """Every revision of KIND NAME on a gateway, oldest first."""
    path = f"/deployments/{gateway}/{deployable_kind(kind)}/{name}/history"
    app.emit(app.call(lambda c: c.get(path)), DEPLOYMENT_COLUMNS)


@deployments.command("restore")
@click.argument("kind")
@click.argument("name")
@click.option("--revision", "-r", type=click.IntRange(min=1), required=True)
@click.option("--gateway", "-g", default="default", show_default=True)
@api_command
def restore(app: Application, kind: str, name: str, revision: int, gateway: str) -> None:
    """Make an earlier revision current again and deploy it."""
    path = f"/deployments/{gateway}/{deployable_kind(kind)}/{name}/restore"
    record = app.call(lambda c: c.post(path, {"revision": revision}))
    if app.output != "table":
        app.emit(record)
        return
    click.echo(f"{record['kind']} {name} on {gateway}: revision {revision} restored as revision {record['revision']}")
