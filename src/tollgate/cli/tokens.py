"""`tollgate tokens list|create|revoke|rotate`: management API tokens (yours; anyone's for admins)."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._times import expiry

TOKEN_COLUMNS = [
    ("id", lambda t: t["id"]),
    ("name", lambda t: t["name"]),
    ("user", lambda t: t["user"]),
    ("kind", lambda t: t["kind"]),
    ("status", lambda t: t["status"]),
    ("expires", lambda t: t.get("expiresAt")),
    ("last used", lambda t: t.get("lastUsedAt")),
]


def token_id(value: str) -> str:
    """A token's id from the id itself or the full tga_<id>_... value."""
    return value[4:16] if value.startswith("tga_") else value


@click.group()
def tokens() -> None:
    """List, create, revoke and rotate management API tokens."""


@tokens.command("list")
@click.option("--user", default=None, help="This user's tokens (admin).")
@click.option("--all", "all_users", is_flag=True, help="Every user's tokens (admin).")
@api_command
def list_tokens(app: Application, user: str | None, all_users: bool) -> None:
    """Your tokens (or a user's, or all), revoked and expired ones included."""
    params = {"user": user, "all": "true" if all_users else None}
    app.emit(app.call(lambda c: c.get("/tokens", **params)), TOKEN_COLUMNS)


def _print_created(app: Application, created: dict[str, object], verb: str) -> None:
    if app.output != "table":
        app.emit(created)
        return
    click.echo(f"Token {created['name']} ({created['id']}) of user {created['user']}: {verb}")
    click.echo(f"Value (shown once, store it now): {created['value']}")


@tokens.command("create")
@click.argument("name")
@click.option("--user", default=None, help="Owner (default: you; another user needs admin).")
@click.option("--expires-in", default=None, help="Lifetime: 30m, 12h, 90d, 2w.")
@click.option("--expires-at", default=None, help="Expiry: ISO 8601, UTC if no offset.")
@api_command
def create(app: Application, name: str, user: str | None, expires_in: str | None, expires_at: str | None) -> None:
    """Issue a token NAME; its value is printed this once."""
    body = {"name": name, "user": user, "expiresAt": expiry(expires_in, expires_at)}
    _print_created(app, app.call(lambda c: c.post("/tokens", body)), "created")


@tokens.command("revoke")
@click.argument("target", metavar="TOKEN")
@api_command
def revoke(app: Application, target: str) -> None:
    """Revoke TOKEN (its id or value): refused from the next call on."""
    record = app.call(lambda c: c.post(f"/tokens/{token_id(target)}/revoke", {}))
    if app.output != "table":
        app.emit(record)
        return
    click.echo(f"Token {record['name']} ({record['id']}) of user {record['user']}: revoked")


@tokens.command("rotate")
@click.argument("target", metavar="TOKEN")
@click.option("--expires-in", default=None, help="A new lifetime: 30m, 12h, 90d, 2w.")
@click.option("--expires-at", default=None, help="A new expiry: ISO 8601, UTC if no offset.")
@api_command
def rotate(app: Application, target: str, expires_in: str | None, expires_at: str | None) -> None:
    """A new value for TOKEN (its id or value; same id after); the old value is refused at once."""
    body = {"expiresAt": expiry(expires_in, expires_at)}
    _print_created(app, app.call(lambda c: c.post(f"/tokens/{token_id(target)}/rotate", body)), "rotated")
