"""Reading resource files for the API: validated locally, then turned into wire documents.

Shared by `apply` and `diff`. A Secret's `fromEnv` is read from *this* shell's environment and sent
as the value (over the API, never printed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from tollgate.cli._app import EXIT_API_ERROR
from tollgate.errors import ResourceValidationError
from tollgate.resources.loader import load_documents
from tollgate.resources.models import Resource, Secret

#: The `-f` option of apply and diff.
filename_option = click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="A YAML file or a directory of them (repeatable).",
)


def _wire(doc: Resource) -> dict[str, Any]:
    data: dict[str, Any] = doc.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(doc, Secret) and doc.spec.from_env is not None:
        value = os.environ.get(doc.spec.from_env)
        if not value:
            raise ResourceValidationError(
                f"Secret {doc.metadata.name!r}", "spec.fromEnv", f"environment variable {doc.spec.from_env} is not set"
            )
        data["spec"] = {"value": value}
    return data


def wire_documents(paths: tuple[Path, ...]) -> list[dict[str, Any]]:
    """Every document of `paths`, validated; invalid input exits 1 with the loader's message."""
    try:
        return [_wire(doc) for path in paths for doc in load_documents(path)]
    except ResourceValidationError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_API_ERROR) from None
