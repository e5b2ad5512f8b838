"""The CLI's `Application`: resolved settings, the API client and output, shared by every command module.

Settings come from flags, else the environment (TOLLGATE_URL, TOLLGATE_TOKEN or TOLLGATE_ADMIN_TOKEN),
else the config file (TOLLGATE_CLI_CONFIG or ~/.tollgate/cli.yaml: `url:` and `token:`), else the
local default. Exit codes are stable, for scripts:

    0 ok · 1 the API refused the request (invalid, conflict) · 2 usage error · 3 cannot connect
    4 authentication failed · 5 not found · 6 permission denied (the token's role lacks it)
    7 no answer in time (the request may still be running)
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click
import yaml

from tollgate.control.client import (
    DEFAULT_API_URL,
    AuthFailedError,
    ConnectionFailedError,
    ForbiddenError,
    ManagementClient,
    ManagementError,
    NotFoundError,
    TimedOutError,
)

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_CONNECTION, EXIT_AUTH, EXIT_NOT_FOUND = 0, 1, 2, 3, 4, 5
EXIT_FORBIDDEN = 6
EXIT_TIMEOUT = 7
CONFIG_ENV = "TOLLGATE_CLI_CONFIG"
DEFAULT_CONFIG = Path("~/.tollgate/cli.yaml")
_F = TypeVar("_F", bound=Callable[..., Any])


def _config_file() -> dict[str, str]:
    path = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).expanduser()
    try:
        data = yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError) as exc:
        raise click.UsageError(f"cannot read the CLI config {path} ({type(exc).__name__})") from None
    return (
        {k: str(v) for k, v in data.items() if isinstance(k, str) and v is not None} if isinstance(data, dict) else {}
    )


class Application:
    """One per invocation: how to reach the API and how to print (table for people, json/yaml for scripts)."""

    def __init__(self, url: str | None, token: str | None, output: str) -> None:
        config = _config_file() if url is None or token is None else {}
        self.url = url or config.get("url") or DEFAULT_API_URL
        self.token = token or config.get("token")
        self.output = output

    def client(self) -> ManagementClient:
        return ManagementClient(self.url, self.token)

    def call(self, action: Callable[[ManagementClient], Any]) -> Any:
        """Run `action` with a client; API failures exit with their stable code and a one-line reason."""
        try:
            with self.client() as client:
                return action(client)
        except ManagementError as exc:
            self.fail(exc)

    def fail(self, exc: ManagementError) -> NoReturn:
        click.echo(f"Error: {exc.message}", err=True)
        for detail in exc.details:
            where = ": ".join(p for p in (detail.get("resource", ""), detail.get("field", "")) if p)
            line = f"{where}: {detail.get('reason', '')}"
            if line not in exc.message:  # the API's message often lists its details already: say each once
                click.echo(f"  - {line}", err=True)
        if isinstance(exc, ConnectionFailedError):
            raise SystemExit(EXIT_CONNECTION)
        if isinstance(exc, TimedOutError):
            raise SystemExit(EXIT_TIMEOUT)
        if isinstance(exc, AuthFailedError):
            raise SystemExit(EXIT_AUTH)
        if isinstance(exc, NotFoundError):
            raise SystemExit(EXIT_NOT_FOUND)
        if isinstance(exc, ForbiddenError):
            raise SystemExit(EXIT_FORBIDDEN)
        raise SystemExit(EXIT_API_ERROR)

    def emit(self, data: object, columns: Sequence[tuple[str, Callable[[Any], object]]] | None = None) -> None:
        """Print `data` as JSON, YAML, or (for people) a table of `columns` (header, getter) per row."""
        if self.output == "json":
            click.echo(json.dumps(data, indent=2, default=str))
        elif self.output == "yaml" or columns is None:
            click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
        else:
            rows = data if isinstance(data, list) else [data]
            click.echo(table([h for h, _ in columns], [[_cell(get(r)) for _, get in columns] for r in rows]))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def api_command(func: _F) -> _F:
    """Add --url, --token and --output to a command and pass it the `Application` as first argument."""

    @click.option("--output", "-o", type=click.Choice(["table", "json", "yaml"]), default="table", show_default=True)
    @click.option(
        "--token",
        envvar=["TOLLGATE_TOKEN", "TOLLGATE_ADMIN_TOKEN"],
        default=None,
        help="Your token [env TOLLGATE_TOKEN, else TOLLGATE_ADMIN_TOKEN]",
    )
    @click.option(
        "--url", envvar="TOLLGATE_URL", default=None, help=f"Management API URL [env TOLLGATE_URL; {DEFAULT_API_URL}]"
    )
    @functools.wraps(func)
    def wrapper(*args: Any, url: str | None, token: str | None, output: str, **kwargs: Any) -> Any:
        return func(Application(url, token, output), *args, **kwargs)

    return cast(_F, wrapper)
