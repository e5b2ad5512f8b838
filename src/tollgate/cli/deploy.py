"""`tollgate deploy KIND NAME`: deploy a provider's or proxy's stored document to a gateway."""

from __future__ import annotations

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._kinds import deployable_kind


@click.command()
@click.argument("kind")
@click.argument("name")
@click.option("--gateway", "-g", default="default", show_default=True)
@click.option("--create-gateway", is_flag=True, help="Create the gateway if it does not exist (else refused).")
@api_command
def deploy(app: Application, kind: str, name: str, gateway: str, create_gateway: bool) -> None:
    """Serve a provider or proxy on a gateway (a new revision when the document changed).

    The gateway must exist (a node serving it registered it, or `PUT /gateways/NAME`), except
    `default`: a typo is refused rather than deploying where no node listens.
    """
    body = {"gateway": gateway, "kind": deployable_kind(kind), "name": name, "createGateway": create_gateway}
    result = app.call(lambda c: c.post("/deployments", body))
    if app.output != "table":
        app.emit(result)
        return
    deployment = result["deployment"]
    click.echo(f"{deployment['kind']} {name} on {gateway}: {result['outcome']} (revision {deployment['revision']})")
    click.echo(f"Invoke URL: {deployment.get('invokeUrl') or '-'}")
