"""`tollgate policies`: the built-in policies and their parameters (from the management API)."""

from __future__ import annotations

from typing import Any

import click

from tollgate.cli._app import Application, api_command


def _params(policy: dict[str, Any]) -> str:
    schema = policy["parameters"]
    required = set(schema.get("required", []))
    return ", ".join(f"{name}{'*' if name in required else ''}" for name in schema.get("properties", {}))


@click.command()
@click.argument("name", required=False)
@api_command
def policies(app: Application, name: str | None) -> None:
    """List the built-in policies (parameters marked * are required); NAME shows one with its schema."""
    items: list[dict[str, Any]] = app.call(lambda c: c.get("/policies"))
    if name is not None:
        match = [p for p in items if p["name"] == name]
        if not match:
            raise click.UsageError(f"no policy named {name!r}; see `tollgate policies`")
        app.emit(match[0])
        return
    columns = [
        ("NAME", lambda p: p["name"]),
        ("CATEGORY", lambda p: p["category"]),
        ("PARAMETERS", _params),
        ("DESCRIPTION", lambda p: p["description"]),
    ]
    app.emit(items, columns)
