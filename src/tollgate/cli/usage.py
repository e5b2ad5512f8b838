"""`tollgate usage [records|export|prices]`: usage summaries, records, exports and prices, through the API.

A client of the management API like every other command: it never opens the database.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._times import parse_duration
from tollgate.control.client import ManagementClient
from tollgate.usage.summary import align, format_records, format_summary

_DIMENSIONS = ("provider", "proxy", "key", "model", "status", "gateway")
_TIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
_F = TypeVar("_F", bound=Callable[..., Any])


def filter_options(func: _F) -> _F:
    """The options every usage command filters with; passes them on as one `filters` dict of API parameters."""

    @click.option("--since", default=None, help="Only the last 30m, 24h, 7d, 2w ... (default 24h).")
    @click.option("--from", "start", type=_TIME, default=None, help="Start time, UTC (instead of --since).")
    @click.option("--to", "end", type=_TIME, default=None, help="End time, UTC (default now).")
    @click.option("--provider", default=None)
    @click.option("--proxy", default=None)
    @click.option("--key", default=None, help="An API key id (or the tg_<id>_... value: only the id is sent).")
    @click.option("--model", default=None, help="Response model, else request model.")
    @click.option("--gateway", default=None)
    @click.option("--status", default=None, help="429, a class (4xx), error or ok.")
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        since: str | None,
        start: datetime | None,
        end: datetime | None,
        key: str | None,
        **kwargs: Any,
    ) -> Any:
        if since is not None and start is not None:
            raise click.UsageError("give --since or --from, not both")
        if start is None:
            start = datetime.now(UTC) - parse_duration(since or "24h", "--since")
        params = {
            "from": _iso(start),
            "to": _iso(end) if end is not None else None,
            "key": key[3:15] if key and key.startswith("tg_") else key,
        }
        for name in ("provider", "proxy", "model", "gateway", "status"):
            params[name] = kwargs.pop(name)
        return func(*args, filters=params, **kwargs)

    return cast(_F, wrapper)


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


@click.group(invoke_without_command=True)
@click.option(
    "--by",
    "group_by",
    default="provider",
    show_default=True,
    help=f"Group by one or more of {', '.join(_DIMENSIONS)}, comma-separated ('' for one total).",
)
@click.option("--bucket", type=click.Choice(["minute", "hour", "day"]), default=None, help="Also split by time.")
@filter_options
@api_command
@click.pass_context
def usage(ctx: click.Context, app: Application, group_by: str, bucket: str | None, filters: dict[str, Any]) -> None:
    """Summarise metered usage: requests, errors, tokens, cost and latency per group (default: last 24h).

    Subcommands list the records themselves, export them, and show the price table.
    """
    if ctx.invoked_subcommand is not None:
        return
    unknown = [d for d in group_by.split(",") if d and d not in _DIMENSIONS]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not one of {', '.join(_DIMENSIONS)}", param_hint="--by")
    summary = app.call(lambda c: c.get("/usage/summary", groupBy=group_by or None, bucket=bucket, **filters))
    if app.output == "table":
        click.echo(format_summary(summary))
    else:
        app.emit(summary)


@usage.command("records")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Records per page.")
@click.option("--cursor", default=None, help="Continue from a previous page (its nextCursor).")
@filter_options
@api_command
def records(app: Application, limit: int, cursor: str | None, filters: dict[str, Any]) -> None:
    """The most recent records matching the filters, newest first."""
    page = app.call(lambda c: c.get("/usage/records", limit=str(limit), cursor=cursor, **filters))
    if app.output != "table":
        app.emit(page)
        return
    click.echo(format_records(page["items"]))
    if page["nextCursor"]:
        click.echo(f"more: --cursor {page['nextCursor']}", err=True)


@usage.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, writable=True), default="-", help="File (default stdout)."
)
@filter_options
@api_command
def export(app: Application, fmt: str, out: str, filters: dict[str, Any]) -> None:
    """Every record matching the filters, as CSV or JSON, streamed to a file or stdout."""
    params = {k: v for k, v in filters.items() if v is not None} | {"format": fmt}

    def download(client: ManagementClient) -> None:
        if out == "-":
            client.download("/usage/export", params, sys.stdout.write)
            return
        with open(out, "w", encoding="utf-8", newline="") as sink:
            client.download("/usage/export", params, sink.write)

    app.call(download)


@usage.command("prices")
@click.option("--model", default=None, help="Only this model (as the table names it).")
@api_command
def prices(app: Application, model: str | None) -> None:
    """The price table costs are computed with (USD per million tokens) and the date it is from."""
    table = app.call(lambda c: c.get("/usage/prices"))
    if app.output != "table":
        app.emit(table)
        return
    rows = [
        [name, f"{p['input']:g}", f"{p['output']:g}", "-" if p["cachedInput"] is None else f"{p['cachedInput']:g}"]
        for name, p in table["models"].items()
        if model is None or name == model.lower()
    ]
    click.echo(align([["model", "input", "output", "cached input"], *rows], 1))
    click.echo(f"{table['currency']} {table['unit']}, list prices as of {table['asOf']}")
