"""The demo's resources: for every vendor a Secret, an LLMProvider on the mock and an LLMProxy on it.

Built as resource models (the same documents a user would write in YAML), applied through the
store like any `--config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.resources.models import APIKey, LLMProvider, LLMProxy, Resource, Secret

#: Azure/Foundry deployment name the demo's mock serves.
DEMO_DEPLOYMENT = "demo-gpt-4o"


@dataclass(frozen=True, slots=True)
class DemoVendor:
    """One vendor of the demo: its template, the mock prefix and the model its snippets ask for."""

    name: str  # provider name and context
    template: str
    mock_vendor: str  # key of MockServer.url()
    model: str


VENDORS = (
    DemoVendor("openai", "openai", "openai", "gpt-4o"),
    DemoVendor("anthropic", "anthropic", "anthropic", "claude-sonnet-4-5"),
    DemoVendor("gemini", "gemini", "gemini", "gemini-2.5-flash"),
    DemoVendor("mistral", "mistral", "mistral", "mistral-small-latest"),
    DemoVendor("azure-openai", "azure-openai", "azure", DEMO_DEPLOYMENT),
    DemoVendor("azure-foundry", "azure-ai-foundry", "foundry", DEMO_DEPLOYMENT),
)


def proxy_name(vendor: DemoVendor) -> str:
    return f"{vendor.name}-app"


def demo_documents(mock_urls: dict[str, str], mock_keys: dict[str, str]) -> list[Resource]:
    """Secrets, providers, proxies and one generated key per provider and per proxy."""
    docs: list[Resource] = []
    for vendor in VENDORS:
        secret = f"{vendor.name}-upstream"
        docs.append(
            Secret.model_validate({"metadata": {"name": secret}, "spec": {"value": mock_keys[vendor.mock_vendor]}})
        )
        docs.append(
            LLMProvider.model_validate(
                {
                    "metadata": {"name": vendor.name, "description": f"{vendor.name} (mock vendor)"},
                    "spec": {
                        "template": vendor.template,
                        "context": f"/{vendor.name}",
                        "upstreamUrl": mock_urls[vendor.mock_vendor],
                        "credential": {"secret": secret},
                    },
                }
            )
        )
        docs.append(
            LLMProxy.model_validate(
                {
                    "metadata": {"name": proxy_name(vendor)},
                    "spec": {"provider": vendor.name, "context": f"/apps/{vendor.name}"},
                }
            )
        )
        for kind, target in (("LLMProvider", vendor.name), ("LLMProxy", proxy_name(vendor))):
            docs.append(
                APIKey.model_validate(
                    {"metadata": {"name": f"{target}-demo-key"}, "spec": {"target": {"kind": kind, "name": target}}}
                )
            )
    return docs
