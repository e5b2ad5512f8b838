"""`tollgate get KIND [NAME]`: list a collection, or show one item, through the management API."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._columns import COLUMNS
from tollgate.cli._kinds import COLLECTIONS, collection


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--selector", "-l", default=None, help="Providers and proxies whose labels match, e.g. team=a,tier!=dev.")
@api_command
def get(app: Application, kind: str, name: str | None, selector: str | None) -> None:
    """List templates, providers, proxies, secrets, keys, gateways or deployments (or get one by NAME).

    For keys NAME is the key id; for deployments NAME is a gateway, whose live deployments are listed.
    Lists are fetched page by page and printed whole.
    """
    canonical = collection(kind)
    path = COLLECTIONS[canonical][0]
    if selector is not None and canonical not in ("providers", "proxies"):
        raise click.BadParameter("label selectors apply to providers and proxies", param_hint="--selector")
    if canonical == "deployments":
        data = app.call(lambda c: c.get_all(f"/{path}", gateway=name))
    elif name is None:
        data = app.call(lambda c: c.get_all(f"/{path}", labelSelector=selector))
    else:
        data = app.call(lambda c: c.get(f"/{path}/{name}"))
    app.emit(data, COLUMNS[canonical])
