"""`tollgate apply -f FILE|DIR`: validate resource YAML locally, then apply it through the management API.

Idempotent: says created / changed / unchanged per resource. `--dry-run` only reports what would
happen; `--prune -l SELECTOR` also deletes what that labelled set no longer names. A large batch runs
as a job on the server (`POST /apply?async=true`): the CLI follows it, printing progress on stderr,
for up to `--timeout` seconds; a job still running then is reported as such (with its URL), never
as "cannot reach".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._documents import filename_option, wire_documents

#: Above this many documents the apply runs as a server-side job the CLI follows, printing progress.
LARGE_BATCH = 500


class _Progress:
    """Prints "applied N of M documents (state)" on stderr each time the job's count or state moves."""

    def __init__(self) -> None:
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, job: dict[str, Any]) -> None:
        seen = (int(job["done"]), str(job["state"]))
        if seen != self._last and job["state"] != "queued":
            self._last = seen
            click.echo(f"  applied {job['done']:,} of {job['total']:,} documents ({job['state']})", err=True)


@click.command()
@filename_option
@click.option("--gateway", "-g", default="default", show_default=True, help="Deploy providers and proxies here.")
@click.option("--no-deploy", is_flag=True, help="Only store the resources; deploy later with `tollgate deploy`.")
@click.option("--create-gateway", is_flag=True, help="Create the gateway if it does not exist (else refused).")
@click.option("--dry-run", is_flag=True, help="Validate and say what would change; write nothing.")
@click.option("--prune", is_flag=True, help="Delete resources matching --selector that the files no longer name.")
@click.option("--selector", "-l", default=None, help="Label selector of the set to prune, e.g. team=a.")
@click.option(
    "--timeout", default=600.0, show_default=True, type=click.FloatRange(min=1), help="Seconds to wait for the answer."
)
@api_command
def apply(
    app: Application,
    paths: tuple[Path, ...],
    gateway: str,
    no_deploy: bool,
    create_gateway: bool,
    dry_run: bool,
    prune: bool,
    selector: str | None,
    timeout: float,
) -> None:
    """Create or update resources from YAML (idempotent) and deploy providers and proxies to a gateway."""
    if prune and not selector:
        raise click.UsageError("--prune needs --selector (-l): the labelled set the files describe")
    documents = wire_documents(paths)
    body = {
        "documents": documents,
        "gateway": None if no_deploy else gateway,
        "createGateway": create_gateway,
        "dryRun": dry_run,
        "prune": prune,
        "selector": selector,
    }
    if len(documents) > LARGE_BATCH:
        click.echo(f"Applying {len(documents)} documents as a job (waiting up to {timeout:.0f} s)...", err=True)
        report = app.call(lambda c: c.apply(body, timeout=timeout, progress=_Progress()))
    else:
        report = app.call(lambda c: c.post("/apply", body, timeout=timeout))
    results = report["results"]
    if app.output != "table":
        app.emit([{k: v for k, v in r.items() if k not in ("before", "after")} for r in results])
        return
    suffix = " (dry run)" if dry_run else ""
    for result in results:
        click.echo(f"{result['kind']} {result['name']}: {result['outcome']}{suffix}")
    for result in results:
        if result.get("key"):
            click.echo(f"New API key {result['name']} for {result['target']} (shown once): {result['key']}")
