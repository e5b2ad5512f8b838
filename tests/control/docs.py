"""Resource documents as the API and the YAML files take them, for the control-plane tests."""

from __future__ import annotations

from typing import Any

V1 = "tollgate.dev/v1"


def provider(name: str = "openai", context: str = "/openai", **spec: Any) -> dict[str, Any]:
    body = {"template": "openai", "context": context, "upstreamUrl": "http://127.0.0.1:9/openai", **spec}
    return {"apiVersion": V1, "kind": "LLMProvider", "metadata": {"name": name}, "spec": body}


def proxy(name: str = "team", provider_name: str = "openai", context: str = "/team") -> dict[str, Any]:
    spec = {"provider": provider_name, "context": context}
    return {"apiVersion": V1, "kind": "LLMProxy", "metadata": {"name": name}, "spec": spec}


def secret(name: str = "openai-key", value: str = "sk-PLAINTEXT-never-shown-0123") -> dict[str, Any]:
    return {"apiVersion": V1, "kind": "Secret", "metadata": {"name": name}, "spec": {"value": value}}


def api_key(name: str = "team-key", kind: str = "LLMProxy", target: str = "team") -> dict[str, Any]:
    spec = {"target": {"kind": kind, "name": target}}
    return {"apiVersion": V1, "kind": "APIKey", "metadata": {"name": name}, "spec": spec}
