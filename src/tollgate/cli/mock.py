"""`tollgate mock`: serve the faithful vendor mocks (demo and end-to-end tests) until interrupted."""

from __future__ import annotations

import socket

import click
import uvicorn

from tollgate.mock.app import create_app
from tollgate.mock.state import PREFIXES, VENDORS, MockState


def parse_keys(values: tuple[str, ...]) -> dict[str, str]:
    """`vendor=value` pairs into a dict; raises `click.BadParameter` naming the bad pair."""
    keys: dict[str, str] = {}
    for item in values:
        vendor, sep, value = item.partition("=")
        if not sep or not value or vendor not in VENDORS:
            raise click.BadParameter(f"{item!r}: expected VENDOR=VALUE with VENDOR one of {', '.join(VENDORS)}")
        keys[vendor] = value
    return keys


@click.command("mock")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="TOLLGATE_MOCK_HOST",
    help="Bind address (env TOLLGATE_MOCK_HOST).",
)
@click.option(
    "--port",
    default=9999,
    show_default=True,
    type=int,
    envvar="TOLLGATE_MOCK_PORT",
    help="Port, 0 picks a free one (env TOLLGATE_MOCK_PORT).",
)
@click.option(
    "--key", "keys", multiple=True, metavar="VENDOR=VALUE", help="Credential a vendor mock expects; repeatable."
)
@click.option(
    "--log-level", default="warning", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
def mock(host: str, port: int, keys: tuple[str, ...], log_level: str) -> None:
    """Serve mock OpenAI, Anthropic, Gemini, Mistral, Azure OpenAI and Azure AI Foundry APIs."""
    state = MockState(parse_keys(keys))
    app = create_app(state=state)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    base = f"http://{host}:{sock.getsockname()[1]}"
    click.echo(f"Mock vendor APIs on {base} (control API: {base}/_mock/requests, {base}/_mock/config)")
    for vendor in VENDORS:
        click.echo(f"  {vendor:<10} {base}{PREFIXES[vendor]:<11} key: {state.keys[vendor]}")
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="off"))
    server.run(sockets=[sock])
