"""The semantic cache's embedder against each backend shape the mocks serve (OpenAI, Mistral, Azure
OpenAI, Azure AI Foundry, Gemini), through the provider's own target and credential; and None
(logged) for everything that cannot give a vector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway.gw_helpers import provider, resource_set
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.mock import MockServer
from tollgate.mock.text import embedding_vector
from tollgate.policies.cache.embedder import Embedder
from tollgate.policies.cache.vectors import normalised

VENDORS = {  # provider -> (template, mock vendor, model)
    "openai": ("openai", "openai", "text-embedding-3-small"),
    "mistral": ("mistral", "mistral", "mistral-embed"),
    "azure": ("azure-openai", "azure", "my-embedding-deployment"),
    "foundry": ("azure-ai-foundry", "foundry", "text-embedding-3-small"),
    "gemini": ("gemini", "gemini", "gemini-embedding-001"),
    "anthropic": ("anthropic", "anthropic", "none"),
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
async def targets(mock: MockServer):  # type: ignore[no-untyped-def]
    mock.reset()
    providers = [
        provider(name, template, f"/{name}", mock.url(vendor), secret=vendor)
        for name, (template, vendor, _) in VENDORS.items()
    ]
    providers.append(provider("closed", "openai", "/closed", "http://127.0.0.1:9", secret="openai"))
    pools = PoolRegistry()
    snap = compile_snapshot(resource_set(providers, secrets=dict(mock.keys)), pools)
    yield {route.provider: route.targets[0] for route in snap.routes.values()}
    pools.close()


@pytest.mark.parametrize("name", ["openai", "mistral", "azure", "foundry", "gemini"])
async def test_each_backend_shape_gives_the_vendors_vector(name: str, targets, mock: MockServer) -> None:  # type: ignore[no-untyped-def]
    dims = None if name == "mistral" else 64
    embedder = Embedder(targets, name, VENDORS[name][2], dims, timeout=5.0)
    vector = await embedder.embed("hello world")
    expected = normalised(embedding_vector("hello world", dims or 1024))
    assert vector is not None and expected is not None and len(vector) == len(expected)
    assert max(abs(a - b) for a, b in zip(vector, expected, strict=True)) < 1e-5
    (seen,) = mock.requests()  # the mock checks each vendor's credential: a vector means it was right
    assert str(seen["vendor_path"]).endswith(("/embeddings", ":embedContent"))
    assert embedder.failures == 0


async def test_failures_are_none_and_logged(targets, mock: MockServer, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    assert await Embedder(targets, "anthropic", "m", None, 1.0).embed("hi") is None
    assert "has no embeddings endpoint" in caplog.text
    assert await Embedder(targets, "nowhere", "m", None, 1.0).embed("hi") is None
    closed = Embedder(targets, "closed", "m", None, 1.0)
    assert await closed.embed("hi") is None and closed.failures == 1
    mock.configure(error=429, vendors=["openai"])
    assert await Embedder(targets, "openai", "m", None, 1.0).embed("hi") is None
    mock.configure(delay=1500, vendors=["openai"])
    slow = Embedder(targets, "openai", "m", None, 0.3)
    assert await slow.embed("hi") is None and slow.failures == 1
