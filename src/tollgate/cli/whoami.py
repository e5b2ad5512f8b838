"""`tollgate whoami`: which user and role the configured token speaks for."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command


@click.command()
@api_command
def whoami(app: Application) -> None:
    """The user, role and token id behind --token / TOLLGATE_TOKEN, and what the role grants."""
    me = app.call(lambda c: c.get("/whoami"))
    if app.output != "table":
        app.emit(me)
        return
    click.echo(f"{me['user']} ({me['kind']}), role {me['role']}, token {me['tokenId']}")
    click.echo(f"permissions: {', '.join(me['permissions'])}")
