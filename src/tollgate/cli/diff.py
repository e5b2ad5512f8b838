"""`tollgate diff -f FILE|DIR`: what `apply -f` would change, as a unified diff per document.

The server computes it (a dry-run apply: the same validation, nothing written), so the diff is against
what is stored, in its normalised form (defaults filled in). Secret values are never shown. With
`--prune -l SELECTOR`, resources the apply would delete are shown as removed. Exit 0 (or, with
`--exit-code`, 1 when something would change), as `git diff --exit-code` does, for CI.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import click
import yaml

from tollgate.cli._app import Application, api_command
from tollgate.cli._documents import filename_option, wire_documents


def _lines(document: dict[str, Any] | None) -> list[str]:
    if document is None:
        return []
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False).splitlines(keepends=True)


def unified(result: dict[str, Any]) -> str:
    """The unified diff of one result's stored (`before`) and applied (`after`) documents."""
    label = f"{result['kind']}/{result['name']}"
    before, after = result.get("before"), result.get("after")
    return "".join(
        difflib.unified_diff(
            _lines(before),
            _lines(after),
            fromfile=f"live/{label}" if before is not None else "/dev/null",
            tofile=f"applied/{label}" if after is not None else "/dev/null",
        )
    )


@click.command()
@filename_option
@click.option("--prune", is_flag=True, help="Also show what `apply --prune` would delete.")
@click.option("--selector", "-l", default=None, help="Label selector of the set to prune, e.g. team=a.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when something would change (for CI gates).")
@api_command
def diff(app: Application, paths: tuple[Path, ...], prune: bool, selector: str | None, exit_code: bool) -> None:
    """Show what applying the files would change, as a unified diff per document."""
    if prune and not selector:
        raise click.UsageError("--prune needs --selector (-l)")
    body = {"documents": wire_documents(paths), "dryRun": True, "prune": prune, "selector": selector}
    results = app.call(lambda c: c.post("/apply", body, timeout=600))["results"]
    changed = [r for r in results if r["outcome"] != "unchanged"]
    if app.output != "table":
        app.emit([{**r, "diff": unified(r)} for r in changed])
    else:
        for result in changed:
            click.echo(unified(result), nl=False)
    if exit_code and changed:
        raise SystemExit(1)
