"""`tollgate serve`: run the gateway, the control plane, or both (the default) in one process."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click
import uvloop

from tollgate.errors import TollgateError
from tollgate.gateway.server_limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_HEAD,
    ServerLimits,
)
from tollgate.node import DEFAULT_ADMIN_MAX_BODY, Node, NodeConfig
from tollgate.store.urls import default_db_url


def _print_key(name: str, target: str, value: str) -> None:
    click.echo(f"New API key {name} for {target} (shown once): {value}")


@click.command()
@click.option(
    "--config",
    "-c",
    "config_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Resource YAML file or directory to apply and deploy at start (repeatable).",
)
@click.option(
    "--db",
    "db_url",
    envvar="TOLLGATE_DB",
    default=None,
    help="sqlite:///path.db (default ~/.tollgate/tollgate.db) or postgresql://... [env TOLLGATE_DB]",
)
@click.option(
    "--role",
    type=click.Choice(["all", "gateway", "control"]),
    default="all",
    envvar="TOLLGATE_ROLE",
    show_default=True,
    help="Which planes this process runs. [env TOLLGATE_ROLE]",
)
@click.option(
    "--host",
    default="127.0.0.1",
    envvar="TOLLGATE_HOST",
    show_default=True,
    help="Data-plane listen address. [env TOLLGATE_HOST]",
)
@click.option(
    "--port",
    default=8080,
    type=int,
    envvar="TOLLGATE_PORT",
    show_default=True,
    help="Data-plane port (0 = any free port). [env TOLLGATE_PORT]",
)
@click.option(
    "--public-url",
    envvar="TOLLGATE_PUBLIC_URL",
    default=None,
    help="Base of the Invoke URLs as clients see it. [env TOLLGATE_PUBLIC_URL]",
)
@click.option(
    "--admin-host",
    default="127.0.0.1",
    envvar="TOLLGATE_ADMIN_HOST",
    show_default=True,
    help="Management API listen address. [env TOLLGATE_ADMIN_HOST]",
)
@click.option(
    "--admin-port",
    default=9090,
    type=int,
    envvar="TOLLGATE_ADMIN_PORT",
    show_default=True,
    help="Management API port. [env TOLLGATE_ADMIN_PORT]",
)
@click.option(
    "--admin-max-body",
    default=DEFAULT_ADMIN_MAX_BODY,
    type=click.IntRange(min=1024),
    envvar="TOLLGATE_ADMIN_MAX_BODY",
    show_default=True,
    help="Largest management API request body in bytes; larger ones get 413. [env TOLLGATE_ADMIN_MAX_BODY]",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    envvar="TOLLGATE_TLS_CERT",
    help="PEM certificate: serve the data plane over HTTPS. [env TOLLGATE_TLS_CERT]",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False),
    envvar="TOLLGATE_TLS_KEY",
    help="PEM private key for --tls-cert. [env TOLLGATE_TLS_KEY]",
)
@click.option(
    "--gateway-name",
    default="default",
    envvar="TOLLGATE_GATEWAY",
    show_default=True,
    help="Which gateway's deployments this node serves. [env TOLLGATE_GATEWAY]",
)
@click.option(
    "--max-connections",
    default=0,
    type=click.IntRange(min=0),
    envvar="TOLLGATE_MAX_CONNECTIONS",
    show_default=True,
    help="Client connections on the data plane at most; 0 = derived from `ulimit -n`. Idle ones are closed "
    "first to make room, then new ones get 503. [env TOLLGATE_MAX_CONNECTIONS]",
)
@click.option(
    "--max-header-bytes",
    default=DEFAULT_MAX_HEAD,
    type=click.IntRange(min=1024),
    envvar="TOLLGATE_MAX_HEADER_BYTES",
    show_default=True,
    help="Request line plus headers of one request, in bytes; larger ones get 431. [env TOLLGATE_MAX_HEADER_BYTES]",
)
@click.option(
    "--max-body-bytes",
    default=DEFAULT_MAX_BODY,
    type=click.IntRange(min=1024),
    envvar="TOLLGATE_MAX_BODY_BYTES",
    show_default=True,
    help="Request body cap whatever a provider's maxRequestBytes says; larger ones get 413. "
    "[env TOLLGATE_MAX_BODY_BYTES]",
)
@click.option(
    "--header-timeout",
    default=DEFAULT_HEADER_TIMEOUT,
    type=click.FloatRange(min=0.1),
    envvar="TOLLGATE_HEADER_TIMEOUT",
    show_default=True,
    help="Seconds for a request's headers to arrive (then 408). [env TOLLGATE_HEADER_TIMEOUT]",
)
@click.option(
    "--keepalive-timeout",
    default=DEFAULT_KEEPALIVE_TIMEOUT,
    type=click.FloatRange(min=0.1),
    envvar="TOLLGATE_KEEPALIVE_TIMEOUT",
    show_default=True,
    help="Seconds an idle client connection is kept open. [env TOLLGATE_KEEPALIVE_TIMEOUT]",
)
@click.option(
    "--body-timeout",
    default=DEFAULT_BODY_TIMEOUT,
    type=click.FloatRange(min=0.1),
    envvar="TOLLGATE_BODY_TIMEOUT",
    show_default=True,
    help="Seconds a request body may stall while the gateway reads it (then 408). [env TOLLGATE_BODY_TIMEOUT]",
)
@click.option(
    "--trusted-hops",
    default=0,
    type=click.IntRange(min=0),
    envvar="TOLLGATE_TRUSTED_HOPS",
    show_default=True,
    help="Reverse proxies in front of the gateway whose X-Forwarded-For/Forwarded entries name the client "
    "(for key back-off and logs). [env TOLLGATE_TRUSTED_HOPS]",
)
@click.option(
    "--log-level",
    default="info",
    type=click.Choice(["debug", "info", "warning", "error"]),
    envvar="TOLLGATE_LOG_LEVEL",
    show_default=True,
    help="[env TOLLGATE_LOG_LEVEL]",
)
def serve(
    config_paths: tuple[Path, ...],
    db_url: str | None,
    role: str,
    host: str,
    port: int,
    public_url: str | None,
    admin_host: str,
    admin_port: int,
    admin_max_body: int,
    tls_cert: str | None,
    tls_key: str | None,
    gateway_name: str,
    max_connections: int,
    max_header_bytes: int,
    max_body_bytes: int,
    header_timeout: float,
    keepalive_timeout: float,
    body_timeout: float,
    trusted_hops: int,
    log_level: str,
) -> None:
    """Serve Invoke URLs (and the management API) from the store, applying --config first."""
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = NodeConfig(
        db_url=db_url or default_db_url(),
        role=role,  # type: ignore[arg-type]
        config_paths=list(config_paths),
        gateway_name=gateway_name,
        host=host,
        port=port,
        public_url=public_url,
        admin_host=admin_host,
        admin_port=admin_port,
        admin_max_body=admin_max_body,
        tls_cert=tls_cert,
        tls_key=tls_key,
        on_new_key=_print_key,
        server_limits=ServerLimits(
            max_head=max_header_bytes,
            max_body=max_body_bytes,
            header_timeout=header_timeout,
            keepalive_timeout=keepalive_timeout,
            body_timeout=body_timeout,
            max_connections=max_connections,
        ),
        trusted_hops=trusted_hops,
    )
    try:
        uvloop.run(Node(config).run())
    except TollgateError as exc:
        raise click.ClickException(str(exc)) from None
    except asyncio.CancelledError:
        pass
