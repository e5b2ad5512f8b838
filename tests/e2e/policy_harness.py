"""Gateways with policies for the end-to-end policy tests: one YAML per test, its own `tollgate serve`
process (or several sharing one Redis), keys per route, and a small background event loop for
in-process helper services (the bring-your-own guardrail)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from e2e_harness import GatewayProcess

from tollgate.mock import MockServer
from tollgate.resources.keys import generate_key

T = TypeVar("T")

#: provider name -> (template, mock vendor)
VENDORS = {"openai": ("openai", "openai"), "anthropic": ("anthropic", "anthropic"), "gemini": ("gemini", "gemini")}


def doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


class PolicySite:
    """Providers (one per vendor, with optional baseline policies) and proxies with policies, each with a key."""

    def __init__(self, mock: MockServer) -> None:
        self.mock = mock
        self.docs: list[dict[str, Any]] = [
            doc("Secret", f"{vendor}-upstream", {"value": value}) for vendor, value in mock.keys.items()
        ]
        self.keys: dict[str, str] = {}
        self.contexts: dict[str, str] = {}

    def provider(self, name: str, vendor: str, policies: list[dict[str, Any]] | None = None) -> PolicySite:
        template, mock_vendor = VENDORS[vendor]
        spec = {
            "template": template,
            "context": f"/{name}",
            "upstreamUrl": f"{self.mock.base_url}/{mock_vendor}",
            "credential": {"secret": f"{mock_vendor}-upstream"},
            "policies": policies or [],
        }
        self.docs.append(doc("LLMProvider", name, spec))
        self._key(name, "LLMProvider", f"/{name}")
        return self

    def proxy(self, name: str, provider: str, policies: list[dict[str, Any]], keys: int = 1) -> PolicySite:
        self.docs.append(doc("LLMProxy", name, {"provider": provider, "context": f"/p/{name}", "policies": policies}))
        for i in range(keys):
            self._key(name if i == 0 else f"{name}-{i}", "LLMProxy", f"/p/{name}", target=name)
        return self

    def key(self, key_name: str, kind: str, target: str, limits: dict[str, Any]) -> PolicySite:
        """One more key for `target` with its own `spec.limits`."""
        context = f"/{target}" if kind == "LLMProvider" else f"/p/{target}"
        self._key(key_name, kind, context, target=target, limits=limits)
        return self

    def _key(
        self, key_name: str, kind: str, context: str, target: str | None = None, limits: dict[str, Any] | None = None
    ) -> None:
        self.keys[key_name] = generate_key().value
        self.contexts[key_name] = context
        env = "TG_POL_KEY_" + key_name.upper().replace("-", "_")
        spec: dict[str, Any] = {"target": {"kind": kind, "name": target or key_name}, "valueFromEnv": env}
        if limits is not None:
            spec["limits"] = limits
        self.docs.append(doc("APIKey", f"k-{key_name}", spec))

    def env(self) -> dict[str, str]:
        return {"TG_POL_KEY_" + k.upper().replace("-", "_"): v for k, v in self.keys.items()}

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "resources.yaml").write_text(yaml.safe_dump_all(self.docs, sort_keys=False))
        return directory


@contextmanager
def gateways(
    site: PolicySite, workdir: Path, count: int = 1, env: dict[str, str] | None = None
) -> Iterator[list[GatewayProcess]]:
    """`count` gateway processes serving `site` (each its own SQLite store), stopped afterwards."""
    config = site.write(workdir / f"config-{uuid.uuid4().hex[:8]}")
    tags = [uuid.uuid4().hex[:8] for _ in range(count)]
    full_env = {**site.env(), **(env or {})}
    procs = [GatewayProcess(config, workdir / f"gw-{tag}.db", full_env, log_name=f"gw-{tag}") for tag in tags]
    try:
        for proc in procs:
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


class BackgroundLoop:
    """An event loop on a thread, for helper servers the synchronous SDK tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def redis_prefix() -> str:
    return f"tgtest:{uuid.uuid4().hex}:"
