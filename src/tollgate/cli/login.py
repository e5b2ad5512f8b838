"""`tollgate login`: exchange a user's name and password for a session token (12 hours at most)."""

from __future__ import annotations

import os
import sys

import click

from tollgate.cli._app import Application, api_command


@click.command()
@click.argument("username")
@click.option("--password-from-env", default=None, help="Read the password from this variable (else stdin).")
@api_command
def login(app: Application, username: str, password_from_env: str | None) -> None:
    """Log USERNAME in and print a session token (use it as TOLLGATE_TOKEN; revoke it to log out)."""
    if password_from_env:
        password = os.environ.get(password_from_env, "")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    session = app.call(lambda c: c.post("/login", {"username": username, "password": password}))
    if app.output != "table":
        app.emit(session)
        return
    click.echo(f"Logged in as {username} (role {session['role']}) until {session['expiresAt']}.")
    click.echo(f"export TOLLGATE_TOKEN={session['value']}")
