"""`tollgate delete KIND NAME`: delete a template, provider, proxy or secret (refused while in use)."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._kinds import COLLECTIONS, collection


@click.command()
@click.argument("kind")
@click.argument("name")
@api_command
def delete(app: Application, kind: str, name: str) -> None:
    """Delete a resource; a provider or proxy is undeployed everywhere first and its keys are revoked."""
    canonical = collection(kind)
    if canonical not in ("templates", "providers", "proxies", "secrets"):
        raise click.BadParameter(
            "only templates, providers, proxies and secrets are deleted (use `keys revoke`, `undeploy`)",
            param_hint="KIND",
        )
    app.call(lambda c: c.delete(f"/{COLLECTIONS[canonical][0]}/{name}"))
    click.echo(f"{canonical[:-1] if canonical != 'proxies' else 'proxy'} {name}: deleted")
