"""The resource kinds the CLI names, in any spelling people type: `provider`, `providers`, `LLMProvider`."""

from __future__ import annotations

import click

#: canonical collection name -> (API collection path, document kind or None)
COLLECTIONS: dict[str, tuple[str, str | None]] = {
    "templates": ("templates", "ProviderTemplate"),
    "providers": ("providers", "LLMProvider"),
    "proxies": ("proxies", "LLMProxy"),
    "secrets": ("secrets", None),
    "keys": ("keys", None),
    "gateways": ("gateways", None),
    "deployments": ("deployments", None),
}
_ALIASES = {
    "template": "templates",
    "providertemplate": "templates",
    "provider": "providers",
    "llmprovider": "providers",
    "proxy": "proxies",
    "llmproxy": "proxies",
    "secret": "secrets",
    "key": "keys",
    "apikey": "keys",
    "gateway": "gateways",
    "deployment": "deployments",
}


def collection(text: str) -> str:
    """The canonical collection for what the user typed; click.BadParameter (exit 2) otherwise."""
    lowered = text.lower()
    name = lowered if lowered in COLLECTIONS else _ALIASES.get(lowered)
    if name is None:
        raise click.BadParameter(f"unknown kind {text!r} (one of {', '.join(COLLECTIONS)})", param_hint="KIND")
    return name


def deployable_kind(text: str) -> str:
    """LLMProvider or LLMProxy from `provider`/`proxy` spellings."""
    name = collection(text)
    kind = COLLECTIONS[name][1]
    if name not in ("providers", "proxies") or kind is None:
        raise click.BadParameter("only providers and proxies are deployed", param_hint="KIND")
    return kind
