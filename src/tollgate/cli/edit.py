"""`tollgate edit KIND NAME`: open a template, provider or proxy in $EDITOR and write it back.

As `kubectl edit`: the document is fetched with its resourceVersion and written back only over that
version (If-Match), so an edit never silently overwrites someone else's change made meanwhile: that is
a 409, and the edited text is kept in a file to reapply. An unchanged or emptied buffer changes nothing.
"""

from __future__ import annotations

import tempfile
from typing import Any

import click
import yaml

from tollgate.cli._app import Application, api_command
from tollgate.cli._kinds import COLLECTIONS, collection
from tollgate.control.client import ManagementClient, ManagementError

_HEADER = (
    "# Edit the {kind} below and save; close without saving (or empty the buffer) to cancel.\n"
    "# metadata.resourceVersion is how the server knows what you edited: leave it as it is.\n"
)


def _keep(text: str) -> str:
    with tempfile.NamedTemporaryFile("w", prefix="tollgate-edit-", suffix=".yaml", delete=False) as handle:
        handle.write(text)
        return handle.name


@click.command()
@click.argument("kind")
@click.argument("name")
@api_command
def edit(app: Application, kind: str, name: str) -> None:
    """Edit a resource in $EDITOR (or $VISUAL); refused if it changed since it was opened."""
    canonical = collection(kind)
    path, doc_kind = COLLECTIONS[canonical]
    if canonical not in ("templates", "providers", "proxies"):
        raise click.BadParameter("only templates, providers and proxies are edited", param_hint="KIND")
    document, etag = app.call(lambda c: c.get_versioned(f"/{path}/{name}"))
    original = _HEADER.format(kind=doc_kind) + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    edited = click.edit(original, extension=".yaml")
    if edited is None or edited == original:
        click.echo("Edit cancelled: no changes made.")
        return
    try:
        changed: Any = yaml.safe_load(edited)
    except yaml.YAMLError as exc:
        raise click.ClickException(f"the edited text is not YAML ({exc}); kept in {_keep(edited)}") from None
    if not changed:
        click.echo("Edit cancelled: the buffer is empty.")
        return
    if not isinstance(changed, dict):
        raise click.ClickException(f"the edited text is not a document; kept in {_keep(edited)}")

    def put(client: ManagementClient) -> Any:
        return client.put(f"/{path}/{name}", changed, if_match=etag)

    try:
        with app.client() as client:
            result = put(client)
    except ManagementError as exc:
        kept = _keep(edited)
        click.echo(f"Your edit is kept in {kept}: fix it and `tollgate apply -f {kept}`.", err=True)
        if exc.status == 409:
            exc.message += " (it changed while you were editing: run `tollgate edit` again)"
        app.fail(exc)
    if app.output != "table":
        app.emit(result)
        return
    click.echo(f"{doc_kind} {name}: {result['outcome']} (resourceVersion {result.get('resourceVersion')})")
