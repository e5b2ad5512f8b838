"""`tollgate get KIND [NAME]`: list a collection, or show one item, through the management API."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._columns import COLUMNS
from tollgate.cli._kinds import COLLECTIONS, collection


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@api_command
def get(app: Application, kind: str, name: str | None) -> None:
    """List templates, providers, proxies, secrets, keys, gateways or deployments (or get one by NAME).

    For keys NAME is the key id; for deployments NAME is a gateway, whose live deployments are listed.
    """
    canonical = collection(kind)
    path = COLLECTIONS[canonical][0]
    if canonical == "deployments":
        data = app.call(lambda c: c.get(f"/{path}", gateway=name))
    elif name is None:
        data = app.call(lambda c: c.get(f"/{path}"))
    else:
        data = app.call(lambda c: c.get(f"/{path}/{name}"))
    app.emit(data, COLUMNS[canonical])
