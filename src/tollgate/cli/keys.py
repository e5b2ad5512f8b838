"""`tollgate keys create|list|update|regenerate|revoke|delete`: gateway API keys through the management API."""

from __future__ import annotations

from datetime import datetime

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._columns import KEY_COLUMNS
from tollgate.cli._kinds import deployable_kind


@click.group()
def keys() -> None:
    """Create, list, update, regenerate, revoke and delete gateway API keys."""


def _key_id(key: str) -> str:
    """A key id from an id or a full tg_<id>_... value."""
    return key[3:15] if key.startswith("tg_") else key


def _metadata(pairs: tuple[str, ...]) -> dict[str, str] | None:
    if not pairs:
        return None
    items: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--meta")
        items[key] = value
    return items


_DATES = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


@keys.command("create")
@click.argument("kind")
@click.argument("target")
@click.option("--name", "key_name", required=True, help="A name for the key (e.g. the team or app).")
@click.option("--expires-at", type=_DATES, help="UTC expiry.")
@click.option("--meta", "meta", multiple=True, help="KEY=VALUE metadata (repeatable), e.g. team=search.")
@api_command
def create(
    app: Application, kind: str, target: str, key_name: str, expires_at: datetime | None, meta: tuple[str, ...]
) -> None:
    """Issue a key for provider or proxy TARGET; the value is printed this once."""
    body = {
        "name": key_name,
        "target": {"kind": deployable_kind(kind), "name": target},
        "expiresAt": expires_at.isoformat() + "Z" if expires_at else None,
        "metadata": _metadata(meta),
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
    app.emit(app.call(lambda c: c.get_all("/keys", kind=kind_name, target=target)), KEY_COLUMNS)


@keys.command("revoke")
@click.argument("key")
@api_command
def revoke(app: Application, key: str) -> None:
    """Revoke KEY (its id, or the full tg_<id>_... value) at once on every gateway."""
    key_id = _key_id(key)
    record = app.call(lambda c: c.post(f"/keys/{key_id}/revoke", {}))
    if app.output != "table":
        app.emit(record)
        return
    click.echo(f"API key {record['name']} ({record['id']}): revoked")


@keys.command("update")
@click.argument("key")
@click.option("--name", "key_name", default=None, help="A new display name.")
@click.option("--expires-at", type=_DATES, default=None, help="A new UTC expiry.")
@click.option("--no-expiry", is_flag=True, help="Remove the expiry.")
@click.option("--meta", "meta", multiple=True, help="KEY=VALUE metadata, replacing all of it (repeatable).")
@api_command
def update(
    app: Application,
    key: str,
    key_name: str | None,
    expires_at: datetime | None,
    no_expiry: bool,
    meta: tuple[str, ...],
) -> None:
    """Change KEY's display name, expiry or metadata; its value keeps working."""
    if no_expiry and expires_at is not None:
        raise click.UsageError("give --expires-at or --no-expiry, not both")
    body: dict[str, object] = {}
    if key_name is not None:
        body["name"] = key_name
    if expires_at is not None or no_expiry:
        body["expiresAt"] = expires_at.isoformat() + "Z" if expires_at else None
    metadata = _metadata(meta)
    if metadata is not None:
        body["metadata"] = metadata
    if not body:
        raise click.UsageError("nothing to change: give --name, --expires-at, --no-expiry or --meta")
    record = app.call(lambda c: c.patch(f"/keys/{_key_id(key)}", body))
    app.emit(record, KEY_COLUMNS)


@keys.command("regenerate")
@click.argument("key")
@api_command
def regenerate(app: Application, key: str) -> None:
    """A new value for KEY (same id, name and target); the old value stops working at once."""
    created = app.call(lambda c: c.post(f"/keys/{_key_id(key)}/regenerate", {}))
    if app.output != "table":
        app.emit(created)
        return
    click.echo(f"API key {created['name']} ({created['id']}): regenerated, the old value no longer works")
    click.echo(f"Value (shown once, store it now): {created['value']}")


@keys.command("delete")
@click.argument("key")
@api_command
def delete_key(app: Application, key: str) -> None:
    """Delete KEY for good (it stops working at once and leaves the lists)."""
    key_id = _key_id(key)
    app.call(lambda c: c.delete(f"/keys/{key_id}"))
    click.echo(f"API key {key_id}: deleted")
