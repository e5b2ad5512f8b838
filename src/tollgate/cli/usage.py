"""`tollgate usage`: requests, errors and tokens per provider, proxy, model or key over a recent period."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from tollgate.errors import TollgateError
from tollgate.store.store import Store
from tollgate.store.urls import default_db_url
from tollgate.store.usage_rows import GROUP_BY_CHOICES
from tollgate.usage.summary import format_json, format_table

_PERIOD = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_period(text: str) -> timedelta:
    """'30m', '1h', '24h', '7d', '2w' -> timedelta; click.BadParameter otherwise."""
    match = _PERIOD.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter("use a number and a unit: 30m, 1h, 24h, 7d, 2w", param_hint="--since")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@click.command()
@click.option(
    "--db",
    "db_url",
    envvar="TOLLGATE_DB",
    default=None,
    help="sqlite:///path.db (default ~/.tollgate/tollgate.db) or postgresql://... [env TOLLGATE_DB]",
)
@click.option("--since", default="24h", show_default=True, help="Period to summarise: 30m, 1h, 24h, 7d, 2w.")
@click.option(
    "--by",
    "group_by",
    type=click.Choice(GROUP_BY_CHOICES),
    default="provider",
    show_default=True,
    help="What to group by.",
)
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def usage(db_url: str | None, since: str, group_by: str, output: str) -> None:
    """Summarise metered usage: requests, errors and tokens per group."""
    start = datetime.now(UTC) - parse_period(since)
    try:
        with Store.open(db_url or default_db_url()) as store:
            rows = store.usage_summary(since=start, group_by=group_by)
    except TollgateError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # a database that cannot be opened: say which kind, never echo the URL
        raise click.ClickException(f"cannot read the usage store ({type(exc).__name__})") from None
    click.echo(format_json(rows, group_by) if output == "json" else format_table(rows, group_by))
