"""Deployments: snapshots per revision, history and restore, gateways, and the data plane's resource set."""

from __future__ import annotations

import pytest
from store_docs import doc, provider, proxy, secret

from tollgate.errors import ResourceConflictError, ResourceNotFoundError, ResourceValidationError
from tollgate.resources.models import LLMProvider
from tollgate.store import Store


def test_deploy_snapshots_and_history(store: Store) -> None:
    store.apply_documents([provider()], gateway="g1", create_gateway=True)
    store.apply_resource(provider(models=["gpt-4o"]))  # edited, not yet deployed
    served = store.load_resource_set("g1").providers["openai"]
    assert served.spec.models == []
    assert store.deploy("g1", "LLMProvider", "openai") == "changed"
    assert store.deploy("g1", "LLMProvider", "openai") == "unchanged"
    history = store.deployment_history("g1", "LLMProvider", "openai")
    assert [(d.revision, d.is_live) for d in history] == [(1, False), (2, True)]
    assert store.load_resource_set("g1").providers["openai"].spec.models == ["gpt-4o"]


def test_restore_an_earlier_revision(store: Store) -> None:
    store.apply_documents([provider()], gateway="g1", create_gateway=True)
    store.apply_documents([provider(models=["gpt-4o"])], gateway="g1", create_gateway=True)
    restored = store.restore_deployment("g1", "LLMProvider", "openai", 1)
    assert restored.revision == 3 and restored.is_live
    current = store.get_resource("LLMProvider", "openai")
    assert isinstance(current, LLMProvider) and current.spec.models == []
    assert store.load_resource_set("g1").providers["openai"].spec.models == []
    with pytest.raises(ResourceNotFoundError, match="no revision 9"):
        store.restore_deployment("g1", "LLMProvider", "openai", 9)


def test_undeploy_stops_serving_and_bumps(store: Store) -> None:
    store.apply_documents([provider(), proxy()], gateway="g1", create_gateway=True)
    revision = store.current_revision()
    with pytest.raises(ResourceConflictError, match="LLMProxy 'team'"):
        store.undeploy("g1", "LLMProvider", "openai")
    record = store.undeploy("g1", "LLMProxy", "team")
    assert record.undeployed_at is not None
    assert store.current_revision() == revision + 1
    assert store.load_resource_set("g1").proxies == {}
    with pytest.raises(ResourceNotFoundError, match="not deployed"):
        store.undeploy("g1", "LLMProxy", "team")


def test_proxy_needs_its_provider_on_the_gateway(store: Store) -> None:
    store.apply_documents([provider(), proxy()], deploy=False)
    with pytest.raises(ResourceValidationError, match="not deployed on gateway 'g2'"):
        store.deploy("g2", "LLMProxy", "team", create_gateway=True)
    store.deploy("g2", "LLMProvider", "openai", create_gateway=True)
    assert store.deploy("g2", "LLMProxy", "team", create_gateway=True) == "created"


def test_resource_sets_are_per_gateway(store: Store) -> None:
    store.apply_documents(
        [secret(), provider(credential={"secret": "openai-key"}), secret("other", "v2"), proxy()],
        gateway="a",
        create_gateway=True,
    )
    store.apply_documents(
        [
            doc(
                "LLMProvider",
                "local",
                template="openai-compatible",
                context="/local",
                upstreamUrl="http://127.0.0.1:9000",
            )
        ],
        gateway="b",
        create_gateway=True,
    )
    store.create_key("LLMProxy", "team", "k")
    a, b = store.load_resource_set("a"), store.load_resource_set("b")
    assert (set(a.providers), set(a.proxies), set(a.secrets)) == ({"openai"}, {"team"}, {"openai-key"})
    assert (set(b.providers), set(b.proxies), b.secrets, b.keys) == ({"local"}, set(), {}, [])
    assert len(a.keys) == 1 and a.revision == b.revision == store.current_revision()
    assert store.load_resource_set("nowhere").providers == {}


def test_templates_are_in_every_resource_set(store: Store) -> None:
    store.apply_resource(doc("ProviderTemplate", "mine", baseUrl="https://x.example"))
    assert set(store.load_resource_set("any").templates) == {"mine"}


def test_gateways_register_and_heartbeat(store: Store) -> None:
    assert store.register_gateway("g1", "http://127.0.0.1:8080") == "created"
    revision = store.current_revision()
    assert store.register_gateway("g1", "http://127.0.0.1:8080") == "unchanged"
    assert store.current_revision() == revision
    store.heartbeat("g1", "draining")
    (gateway,) = store.list_gateways()
    assert gateway.status == "draining" and gateway.last_seen is not None
    assert store.register_gateway("g1", "https://gw.example") == "changed"
    with pytest.raises(ResourceNotFoundError):
        store.heartbeat("ghost")


def test_gateway_document_registers(store: Store) -> None:
    report = store.apply_documents([doc("Gateway", "edge", baseUrl="https://edge.example"), provider()], gateway="edge")
    assert report.outcome("Gateway", "edge") == "created"
    assert [g.base_url for g in store.list_gateways()] == ["https://edge.example"]
    assert [d.gateway for d in store.list_deployments()] == ["edge"]
