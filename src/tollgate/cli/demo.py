"""`tollgate demo`: the gateway on embedded defaults (SQLite) in front of the built-in mock vendors.

Deploys a provider and a proxy per vendor, generates their keys and prints Invoke URLs and a
ready-to-run snippet per client; `--self-test` runs every snippet once and exits with its verdict.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import uvloop

from tollgate.demo.deployment import VENDORS, demo_documents, proxy_name
from tollgate.demo.snippets import Snippet, snippets
from tollgate.errors import ListenError, ResourceConflictError
from tollgate.mock.server import MockServer
from tollgate.node import Node, NodeConfig
from tollgate.store import Store

_SNIPPET_TIMEOUT = 120
#: The web console's user of the demo (an admin), with a password printed once in the banner.
DEMO_USER = "demo"


def _console_user(store: Store) -> str | None:
    """A console user `demo` (admin) with a fresh password, or None when a reused --dir already has one."""
    password = secrets.token_urlsafe(12)
    try:
        store.access.create_user(DEMO_USER, "user", "admin", password)
    except ResourceConflictError:
        return None
    return password


def _print_banner(
    node: Node, keys: dict[str, str], out_dir: Path, items: list[Snippet], console_password: str | None
) -> None:
    base = node.public_url
    click.echo(click.style("\nTollgate demo is running.", bold=True))
    click.echo(f"Gateway (data plane): {base}   database: {node.config.db_url}")
    if node.admin_port:
        click.echo(f"Management API:       http://{node.config.admin_host}:{node.admin_port}")
        login = f"password {console_password}" if console_password else "the password printed when this --dir was new"
        console = f"http://{node.config.admin_host}:{node.admin_port}/console"
        click.echo(f"Web console:          {console}  (user {DEMO_USER}, {login})")
    click.echo("\nInvoke URLs and API keys (each key opens only its own provider or proxy):")
    for vendor in VENDORS:
        for name, ctx in ((vendor.name, f"/{vendor.name}"), (proxy_name(vendor), f"/apps/{vendor.name}")):
            click.echo(f"  {name:<20} {base}{ctx:<22} {keys[name]}")
    click.echo(f"\nSnippets for every client of the SDK matrix (also written to {out_dir}):")
    for i, item in enumerate(items, 1):
        click.echo(
            click.style(f"\n# --- {i:02d}. {item.client} -> {item.vendor} provider ({item.install}) ---", fg="cyan")
        )
        click.echo(item.code.rstrip())  # not indented: it must run as pasted
    click.echo("\nRun one:  .venv/bin/python " + str(out_dir / "01_openai_openai.py"))
    if node.admin_port:
        api = f"http://{node.config.admin_host}:{node.admin_port}"
        click.echo(f"Usage:    .venv/bin/tollgate usage --url {api} --token <the admin token printed at start>")
    click.echo("Stop with Ctrl+C.")


def _write_snippets(items: list[Snippet], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, item in enumerate(items, 1):
        slug = item.client.split(" ")[0].replace("-", "_")
        path = out_dir / f"{i:02d}_{slug}_{item.vendor.replace('-', '_')}.py"
        path.write_text(f"# {item.install}\n{item.code}")
        paths.append(path)
    return paths


async def _self_test(paths: list[Path]) -> bool:
    ok = True
    for path in paths:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), _SNIPPET_TIMEOUT)
        except TimeoutError:
            proc.kill()
            output, passed = b"timed out", False
        else:
            passed = proc.returncode == 0 and bool(output.strip())
        ok &= passed
        mark = click.style("PASS", fg="green") if passed else click.style("FAIL", fg="red")
        click.echo(f"{mark} {path.name}: {output.decode(errors='replace').strip().splitlines()[-1:] or ''}")
    return ok


async def _run(port: int, host: str, admin_port: int, workdir: Path, self_test: bool) -> bool:
    with MockServer() as mock:
        urls = {vendor: mock.url(vendor) for vendor in ("openai", "anthropic", "gemini", "mistral", "azure", "foundry")}
        docs = demo_documents(urls, mock.keys)
        db_url = f"sqlite:///{workdir / 'tollgate.db'}"
        node = Node(NodeConfig(db_url=db_url, host=host, port=port, admin_port=admin_port))
        store = await asyncio.to_thread(Store.open, db_url)
        report = await asyncio.to_thread(store.apply_documents, docs)
        console_password = await asyncio.to_thread(_console_user, store)
        await asyncio.to_thread(store.close)
        keys = {target.split("/", 1)[1]: value for _, target, value in report.new_keys}
        await node.start()
        base = node.public_url
        invoke = {v.name: f"{base}/{v.name}" for v in VENDORS}
        items = snippets(invoke, {v.name: keys[v.name] for v in VENDORS}, {v.name: v.model for v in VENDORS})
        paths = _write_snippets(items, workdir / "snippets")
        try:
            if self_test:
                return await _self_test(paths)
            _print_banner(node, keys, workdir / "snippets", items, console_password)
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for sig in ("SIGINT", "SIGTERM"):
                import signal

                loop.add_signal_handler(getattr(signal, sig), stop.set)
            await stop.wait()
            return True
        finally:
            await node.shutdown()


@click.command()
@click.option("--port", default=8080, type=int, show_default=True, help="Gateway port (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Gateway listen address.")
@click.option("--admin-port", default=9090, type=int, show_default=True, help="Management API port (0 = any).")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo's database and snippets go (default: a fresh temporary directory).",
)
@click.option("--self-test", is_flag=True, help="Run every snippet once against the demo, print PASS/FAIL, exit.")
def demo(port: int, host: str, admin_port: int, workdir: Path | None, self_test: bool) -> None:
    """Start mock vendors and the gateway on SQLite, deploy every vendor, print Invoke URLs and snippets."""
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    work = workdir or Path(tempfile.mkdtemp(prefix="tollgate-demo-"))
    (work / "tollgate.db").unlink(missing_ok=True)  # keys are shown once: every demo run starts fresh
    try:
        ok = uvloop.run(_run(port, host, admin_port, work, self_test))
    except ListenError as exc:  # one line a newcomer can act on, not a traceback
        hint = "choose other ports with --port and --admin-port (0 = any free port)"
        raise click.ClickException(f"{exc}; {hint}") from None
    if not ok:
        raise SystemExit(1)
