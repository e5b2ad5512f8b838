"""`tollgate audit list|export`: who changed what and when, through the management API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._times import parse_instant

AUDIT_COLUMNS = [
    ("id", lambda e: e["id"]),
    ("time", lambda e: e["time"]),
    ("actor", lambda e: e["actor"]),
    ("action", lambda e: e["action"]),
    ("kind", lambda e: e["kind"]),
    ("name", lambda e: e["name"]),
]


def _filters(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--since", default=None, help="From this time: ISO 8601 or a duration ago (24h, 7d)."),
            click.option("--until", default=None, help="Before this time: ISO 8601 or a duration ago."),
            click.option("--actor", default=None, help="Only this user's changes."),
            click.option("--kind", default=None, help="Only this kind (LLMProvider, Secret, APIKey, User, ...)."),
            click.option("--name", default=None, help="Only things of this name (or id)."),
            click.option("--action", default=None, help="Only this action (create, update, delete, deploy, ...)."),
        ]
    ):
        func = option(func)
    return func


def _params(since: str | None, until: str | None, **rest: str | None) -> dict[str, str | None]:
    return {
        "since": parse_instant(since, "--since") if since else None,
        "until": parse_instant(until, "--until") if until else None,
        **rest,
    }


@click.group()
def audit() -> None:
    """The audit log of changes made through the management API."""


@audit.command("list")
@_filters
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Entries per page.")
@click.option("--cursor", default=None, help="Continue after a previous page (its next cursor).")
@api_command
def list_entries(app: Application, limit: int, cursor: str | None, **filters: str | None) -> None:
    """Entries newest first; prints the cursor of the next page when there is one."""
    params = {**_params(**filters), "limit": str(limit), "cursor": cursor}
    page = app.call(lambda c: c.get("/audit", **params))
    if app.output != "table":
        app.emit(page)
        return
    app.emit(page["items"], AUDIT_COLUMNS)
    if page.get("nextCursor"):
        click.echo(f"(more: --cursor {page['nextCursor']})")


@audit.command("export")
@_filters
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--file", "path", type=click.Path(dir_okay=False, writable=True), default=None, help="Else stdout.")
@api_command
def export(app: Application, fmt: str, path: str | None, **filters: str | None) -> None:
    """Every matching entry (before and after documents included) as JSON lines or CSV."""
    params = {k: v for k, v in {**_params(**filters), "format": fmt}.items() if v is not None}
    if path is None:
        app.call(lambda c: c.download("/audit/export", params, lambda chunk: click.echo(chunk, nl=False)))
        return
    lines = 0
    with open(path, "w", encoding="utf-8") as out:

        def write(chunk: str) -> None:
            nonlocal lines
            lines += chunk.count("\n")
            out.write(chunk)

        app.call(lambda c: c.download("/audit/export", params, write))
    click.echo(f"Wrote {lines} line(s) to {path}")
