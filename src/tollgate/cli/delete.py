"""`tollgate delete KIND NAME`: delete a template, provider, proxy or secret (refused while in use)."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._kinds import COLLECTIONS, collection


@click.command()
@click.argument("kind")
@click.argument("name")
@click.option("--force", is_flag=True, help="Gateways: undeploy everything on it first (else refused while in use).")
@api_command
def delete(app: Application, kind: str, name: str, force: bool) -> None:
    """Delete a resource; a provider or proxy is undeployed everywhere first and its keys are revoked.

    A gateway is refused while something is deployed on it, unless --force, which undeploys it all.
    """
    canonical = collection(kind)
    if canonical not in ("templates", "providers", "proxies", "secrets", "gateways"):
        raise click.BadParameter(
            "only templates, providers, proxies, secrets and gateways are deleted (use `keys delete`, `undeploy`)",
            param_hint="KIND",
        )
    if force and canonical != "gateways":
        raise click.BadParameter("--force is for gateways", param_hint="--force")
    if canonical == "gateways":
        stopped = app.call(lambda c: c.delete(f"/gateways/{name}", force="true" if force else None))
        for item in stopped or []:
            click.echo(f"{item['kind']} {item['name']}: undeployed from {name}")
    else:
        app.call(lambda c: c.delete(f"/{COLLECTIONS[canonical][0]}/{name}"))
    click.echo(f"{canonical[:-1] if canonical != 'proxies' else 'proxy'} {name}: deleted")
