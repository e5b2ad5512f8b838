"""The `tollgate` command: the root group declares global options and registers one module per command."""

from __future__ import annotations

import importlib

import click

#: module name under tollgate.cli -> attribute holding the click command or group
_COMMANDS = {
    "serve": "serve",
    "mock": "mock",
    "demo": "demo",
    "usage": "usage",
    "apply": "apply",
    "get": "get",
    "describe": "describe",
    "delete": "delete",
    "keys": "keys",
    "deploy": "deploy",
    "undeploy": "undeploy",
    "deployments": "deployments",
    "secrets": "secrets",
    "users": "users",
    "tokens": "tokens",
    "whoami": "whoami",
    "login": "login",
    "audit": "audit",
    "policies": "policies",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tollgate")
def main() -> None:
    """Tollgate: a self-hosted AI gateway for the vendors' own SDKs."""


for _module, _attr in _COMMANDS.items():
    try:
        _mod = importlib.import_module(f"tollgate.cli.{_module}")
    except ModuleNotFoundError as exc:  # a command whose module is not written yet
        if exc.name != f"tollgate.cli.{_module}":
            raise
        continue
    main.add_command(getattr(_mod, _attr))
