"""The `tollgate` command: the root group declares global options and registers one module per command.

Commands load lazily: `tollgate --version` and `tollgate --help` import only click (the help lists the
short descriptions kept below), and `tollgate get` imports the API client but never the gateway. A
command module that fails to import fails loudly when that command is used.
"""

from __future__ import annotations

import importlib

import click

from tollgate import __version__

#: command name -> (module under tollgate.cli, attribute holding the command, one-line help for --help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("serve", "serve", "Run the gateway and the management API."),
    "mock": ("mock", "mock", "Run mock vendor APIs (for demos and tests)."),
    "demo": ("demo", "demo", "Start mock vendors, a gateway and one provider and proxy per vendor."),
    "usage": ("usage", "usage", "Usage per provider, proxy, model, key or gateway."),
    "apply": ("apply", "apply", "Create or update resources from YAML (idempotent) and deploy them."),
    "diff": ("diff", "diff", "Show what `apply -f` would change, as a unified diff per document."),
    "edit": ("edit", "edit", "Edit a resource in $EDITOR and write it back (refused if it changed meanwhile)."),
    "get": ("get", "get", "List a collection or show one item."),
    "describe": ("describe", "describe", "Show a resource with its deployments and API keys."),
    "delete": ("delete", "delete", "Delete a template, provider, proxy, secret or gateway."),
    "keys": ("keys", "keys", "Create, list, update, regenerate, revoke and delete gateway API keys."),
    "deploy": ("deploy", "deploy", "Serve a provider or proxy on a gateway."),
    "undeploy": ("undeploy", "undeploy", "Stop serving a provider or proxy on a gateway."),
    "deployments": ("deployments", "deployments", "Live deployments, revision history and restore."),
    "secrets": ("secrets", "secrets", "Secrets: names only out, values only in; key rotation."),
    "users": ("users", "users", "Manage people and service accounts of the management API and their roles."),
    "tokens": ("tokens", "tokens", "List, create, revoke and rotate management API tokens."),
    "whoami": ("whoami", "whoami", "The user, role and token behind --token, and what the role grants."),
    "login": ("login", "login", "Log a user in and print a session token."),
    "audit": ("audit", "audit", "The audit log of changes made through the management API."),
    "policies": ("policies", "policies", "The built-in policy types and their parameters."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use, not when the program starts."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._lazy, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = self._lazy.get(cmd_name)
        if spec is None:
            return super().get_command(ctx, cmd_name)
        module = importlib.import_module(f"tollgate.cli.{spec[0]}")
        command = getattr(module, spec[1])
        if not isinstance(command, click.Command):
            raise TypeError(f"tollgate.cli.{spec[0]}.{spec[1]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the static help texts, so `--help` imports no command module."""
        rows = [(name, self._lazy[name][2]) for name in sorted(self._lazy)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(version=__version__, prog_name="tollgate")
def main() -> None:
    """Tollgate: a self-hosted AI gateway for the vendors' own SDKs."""
