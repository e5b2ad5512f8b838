"""`tollgate keys create|list|revoke`: gateway API keys through the management API."""

from __future__ import annotations

from datetime import datetime

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._columns import KEY_COLUMNS
from tollgate.cli._kinds import deployable_kind


@click.group()
def keys() -> None:
    """Create, list and revoke gateway API keys."""


@keys.command("create")
@click.argument("kind")
@click.argument("target")
@click.option("--name", "key_name", required=True, help="A name for the key (e.g. the team or app).")
@click.option("--expires-at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="UTC expiry.")
@api_command
def create(app: Application, kind: str, target: str, key_name: str, expires_at: datetime | None) -> None:
    """Issue a key for provider or proxy TARGET; the value is printed this once."""
    body = {
        "name": key_name,
        "target": {"kind": deployable_kind(kind), "name": target},
        "expiresAt": expires_at.isoformat() + "Z" if expires_at else None,
    }
    created = app.call(lambda c: c.post("/keys", body))
    if app.output != "table":
        app.emit(created)
        return
    click.echo(f"API key {created['name']} ({created['id']}) for {created['target']['kind']}/{target}")
    click.echo(f"Value (shown once, store it now): {created['value']}")


@keys.command("list")
@click.option("--kind", "kind", default=None, help="Only keys of providers or proxies.")
@click.option("--target", default=None, help="Only keys of this provider or proxy name.")
@api_command
def list_keys(app: Application, kind: str | None, target: str | None) -> None:
    """Every key with its masked value, status, expiry and last use."""
    kind_name = deployable_kind(kind) if kind else None
    app.emit(app.call(lambda c: c.get("/keys", kind=kind_name, target=target)), KEY_COLUMNS)


@keys.command("revoke")
@click.argument("key")
@api_command
def revoke(app: Application, key: str) -> None:
    """Revoke KEY (its id, or the full tg_<id>_... value) at once on every gateway."""
    key_id = key[3:15] if key.startswith("tg_") else key
    record = app.call(lambda c: c.post(f"/keys/{key_id}/revoke", {}))
    if app.output != "table":
        app.emit(record)
        return
    click.echo(f"API key {record['name']} ({record['id']}): revoked")
