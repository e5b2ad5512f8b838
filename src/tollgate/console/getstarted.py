"""The Get started panel: a route's Invoke URLs and, per client of the SDK guide, a snippet that runs as copied.

The snippets are the demo's (`demo.snippets`, one source of truth), filled with this route's Invoke
URL, its key placement (Security tab) and, right after "Generate API key", the new key itself; before
that, a placeholder the user replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollgate.demo.snippets import KeyPlacement, Snippet, route_snippets

KEY_PLACEHOLDER = "<your API key>"
#: Built-in template -> the SDK guide's vendor (its rows of the matrix).
_TEMPLATE_VENDORS = {
    "openai": "openai",
    "openai-compatible": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "mistral": "mistral",
    "azure-openai": "azure-openai",
    "azure-ai-foundry": "azure-foundry",
}
#: A custom template's error format -> the SDK family its clients are (same wire API).
_FORMAT_VENDORS = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini", "mistral": "mistral"}
#: A route's clientApi (another vendor's API in front of this backend) -> the family its clients are.
_CLIENT_API_VENDORS = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini"}
#: The model a snippet asks for when the provider has no allow-list.
DEFAULT_MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
    "azure-openai": "<your deployment>",
    "azure-foundry": "<your deployment>",
}


@dataclass(frozen=True, slots=True)
class SnippetTab:
    """One client's tab: an id for the page, the client's name, and its snippet or why there is none."""

    id: str
    client: str
    install: str
    code: str
    note: str


def vendor_of(template: str, error_format: str | None, client_api: str | None) -> str:
    """The SDK family that talks to a route: its clientApi, else its template's (custom: by error format)."""
    if client_api in _CLIENT_API_VENDORS:
        return _CLIENT_API_VENDORS[client_api]
    if template in _TEMPLATE_VENDORS:
        return _TEMPLATE_VENDORS[template]
    return _FORMAT_VENDORS.get(error_format or "openai", "openai")


def placement_of(spec: dict[str, Any]) -> KeyPlacement:
    security = spec.get("security") or {}
    return KeyPlacement(
        location=str(security.get("location", "header")),
        name=str(security.get("name", "X-API-Key")),
        prefix=str(security.get("valuePrefix", "")),
    )


def snippet_tabs(
    vendor: str, invoke_url: str, key: str | None, model: str, placement: KeyPlacement
) -> list[SnippetTab]:
    tabs = []
    for index, item in enumerate(route_snippets(vendor, invoke_url, key or KEY_PLACEHOLDER, model, placement)):
        if isinstance(item, Snippet):
            tabs.append(SnippetTab(f"snippet-{index}", item.client, item.install, item.code, ""))
        else:
            tabs.append(SnippetTab(f"snippet-{index}", item.split(" cannot ")[0], "", "", item))
    return tabs
