"""`tollgate secrets set|list|delete`: upstream credentials, write-only (read from stdin or the environment)."""

from __future__ import annotations

import os
import sys

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._columns import COLUMNS


@click.group()
def secrets() -> None:
    """Store upstream credentials (encrypted at rest, never shown back)."""


@secrets.command("set")
@click.argument("name")
@click.option("--from-env", "from_env", default=None, help="Read the value from this environment variable.")
@api_command
def set_secret(app: Application, name: str, from_env: str | None) -> None:
    """Set NAME's value from --from-env, else from stdin (never from an argument: shells keep history)."""
    value = os.environ.get(from_env, "") if from_env else sys.stdin.read().rstrip("\n")
    if not value:
        raise click.UsageError(f"no value: {'$' + from_env + ' is empty' if from_env else 'stdin was empty'}")
    result = app.call(lambda c: c.put(f"/secrets/{name}", {"value": value}))
    click.echo(f"Secret {name}: {result['outcome']}")


@secrets.command("list")
@api_command
def list_secrets(app: Application) -> None:
    app.emit(app.call(lambda c: c.get("/secrets")), COLUMNS["secrets"])


@secrets.command("rotate")
@click.option("--new-key", is_flag=True, help="First add a fresh key to the key file.")
@click.option("--retire-old-keys", is_flag=True, help="Afterwards keep only the newest key in the key file.")
@api_command
def rotate(app: Application, new_key: bool, retire_old_keys: bool) -> None:
    """Re-encrypt every secret with the newest encryption key (old keys keep decrypting meanwhile)."""
    body = {"newKey": new_key, "retireOldKeys": retire_old_keys}
    result = app.call(lambda c: c.post("/secrets/rotate", body))
    click.echo(f"Re-encrypted {result['reencrypted']} secret(s) with the newest key.")
