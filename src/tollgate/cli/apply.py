"""`tollgate apply -f FILE|DIR`: validate resource YAML locally, then apply it through the management API.

Idempotent: says created / changed / unchanged per resource. A Secret's `fromEnv` is read from *this*
shell's environment and sent as the value (over the API, never printed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tollgate.cli._app import EXIT_API_ERROR, Application, api_command
from tollgate.errors import ResourceValidationError
from tollgate.resources.loader import load_documents
from tollgate.resources.models import Resource, Secret


def _wire(doc: Resource) -> dict[str, Any]:
    data: dict[str, Any] = doc.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(doc, Secret) and doc.spec.from_env is not None:
        import os

        value = os.environ.get(doc.spec.from_env)
        if not value:
            raise ResourceValidationError(
                f"Secret {doc.metadata.name!r}", "spec.fromEnv", f"environment variable {doc.spec.from_env} is not set"
            )
        data["spec"] = {"value": value}
    return data


@click.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="A YAML file or a directory of them (repeatable).",
)
@click.option("--gateway", "-g", default="default", show_default=True, help="Deploy providers and proxies here.")
@click.option("--no-deploy", is_flag=True, help="Only store the resources; deploy later with `tollgate deploy`.")
@api_command
def apply(app: Application, paths: tuple[Path, ...], gateway: str, no_deploy: bool) -> None:
    """Create or update resources from YAML (idempotent) and deploy providers and proxies to a gateway."""
    try:
        documents = [_wire(doc) for path in paths for doc in load_documents(path)]
    except ResourceValidationError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_API_ERROR) from None
    body = {"documents": documents, "gateway": None if no_deploy else gateway}
    report = app.call(lambda c: c.post("/apply", body))
    results = report["results"]
    if app.output != "table":
        app.emit(results)
        return
    for result in results:
        click.echo(f"{result['kind']} {result['name']}: {result['outcome']}")
    for result in results:
        if result.get("key"):
            click.echo(f"New API key {result['name']} for {result['target']} (shown once): {result['key']}")
