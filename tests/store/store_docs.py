"""Small builders of validated resource documents for the store tests."""

from __future__ import annotations

from tollgate.resources.loader import parse_document
from tollgate.resources.models import Resource


def doc(kind: str, name: str, **spec: object) -> Resource:
    """A validated document from keyword spec fields (aliases as in YAML)."""
    return parse_document(
        {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}, "test"
    )


def provider(name: str = "openai", context: str = "/openai", **spec: object) -> Resource:
    return doc("LLMProvider", name, template="openai", context=context, **spec)


def proxy(name: str = "team", provider_name: str = "openai", context: str = "/team") -> Resource:
    return doc("LLMProxy", name, provider=provider_name, context=context)


def secret(name: str = "openai-key", value: str = "sk-test-PLAINTEXT-0123456789") -> Resource:
    return doc("Secret", name, value=value)


def api_key(name: str = "team-key", kind: str = "LLMProxy", target: str = "team", **spec: object) -> Resource:
    return doc("APIKey", name, target={"kind": kind, "name": target}, **spec)
