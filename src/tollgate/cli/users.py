"""`tollgate users list|create|update|delete|set-password`: people and service accounts (admin)."""

from __future__ import annotations

import os
import sys

import click

from tollgate.cli._app import Application, api_command

ROLES = ("admin", "operator", "publisher", "viewer")
USER_COLUMNS = [
    ("name", lambda u: u["name"]),
    ("kind", lambda u: u["kind"]),
    ("role", lambda u: u["role"]),
    ("password", lambda u: u["hasPassword"]),
    ("disabled", lambda u: u["disabled"]),
    ("created", lambda u: u["createdAt"]),
]


def _password(from_env: str | None) -> str:
    """From --password-from-env, else the first line of stdin (never an argument: shells keep history)."""
    value = os.environ.get(from_env, "") if from_env else sys.stdin.readline().rstrip("\n")
    if not value:
        raise click.UsageError(f"no password: {'$' + from_env + ' is empty' if from_env else 'stdin was empty'}")
    return value


@click.group()
def users() -> None:
    """Manage people and service accounts of the management API and their roles."""


@users.command("list")
@api_command
def list_users(app: Application) -> None:
    app.emit(app.call(lambda c: c.get("/users")), USER_COLUMNS)


@users.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--service", is_flag=True, help="A service account (tokens only, no password).")
@click.option("--password-stdin", is_flag=True, help="Read a login password from the first line of stdin.")
@click.option("--password-from-env", default=None, help="Read a login password from this environment variable.")
@api_command
def create(
    app: Application, name: str, role: str, service: bool, password_stdin: bool, password_from_env: str | None
) -> None:
    """Create user NAME with ROLE (a person, or with --service a service account)."""
    password = _password(password_from_env) if password_stdin or password_from_env else None
    body = {"name": name, "role": role, "kind": "service" if service else "user", "password": password}
    user = app.call(lambda c: c.post("/users", body))
    if app.output != "table":
        app.emit(user)
        return
    click.echo(f"User {user['name']} ({user['kind']}, role {user['role']}): created")


@users.command("update")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default=None, help="A new role.")
@click.option("--disable/--enable", "disabled", default=None, help="Refuse (or accept again) the user's tokens.")
@api_command
def update(app: Application, name: str, role: str | None, disabled: bool | None) -> None:
    """Change NAME's role, or disable/enable it (takes effect at the next call)."""
    user = app.call(lambda c: c.patch(f"/users/{name}", {"role": role, "disabled": disabled}))
    app.emit(user, USER_COLUMNS)


@users.command("delete")
@click.argument("name")
@api_command
def delete(app: Application, name: str) -> None:
    """Delete NAME and its tokens (the audit log keeps its name)."""
    app.call(lambda c: c.delete(f"/users/{name}"))
    click.echo(f"User {name}: deleted")


@users.command("set-password")
@click.argument("name")
@click.option("--password-from-env", default=None, help="Read the new password from this variable (else stdin).")
@click.option("--current-from-env", default=None, help="Your current password, from this variable (your own).")
@api_command
def set_password(app: Application, name: str, password_from_env: str | None, current_from_env: str | None) -> None:
    """Set NAME's login password (admins: anyone's; others: their own, with the current one)."""
    body = {
        "password": _password(password_from_env),
        "currentPassword": _password(current_from_env) if current_from_env else None,
    }
    app.call(lambda c: c.put(f"/users/{name}/password", body))
    click.echo(f"User {name}: password set")
