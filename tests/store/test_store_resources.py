"""Applying, reading and deleting resources: outcomes, integrity errors, delete protection, revisions."""

from __future__ import annotations

import pytest
from store_docs import api_key, doc, provider, proxy, secret

from tollgate.errors import (
    ResourceConflictError,
    ResourceNotFoundError,
    ResourceValidationError,
    ResourceValidationGroupError,
)
from tollgate.resources.models import LLMProvider
from tollgate.store import Store


def test_apply_created_changed_unchanged(store: Store) -> None:
    assert store.apply_resource(provider()) == "created"
    assert store.apply_resource(provider()) == "unchanged"
    assert store.apply_resource(provider(models=["gpt-4o"])) == "changed"
    stored = store.get_resource("LLMProvider", "openai")
    assert isinstance(stored, LLMProvider)
    assert stored.spec.models == ["gpt-4o"]


def test_unchanged_whatever_the_spelling_of_defaults(store: Store) -> None:
    store.apply_resource(provider())
    explicit = provider(security={"location": "header", "name": "X-API-Key"}, timeouts={"connect": 10})
    assert store.apply_resource(explicit) == "unchanged"


def test_revision_bumps_only_on_change(store: Store) -> None:
    start = store.current_revision()
    store.apply_resource(provider())
    after_create = store.current_revision()
    assert after_create == start + 1
    store.apply_resource(provider())
    assert store.current_revision() == after_create
    store.apply_resource(provider(models=["a"]))
    assert store.current_revision() == after_create + 1


def test_one_transaction_bumps_once(store: Store) -> None:
    store.apply_documents(
        [secret(), provider(credential={"secret": "openai-key"}), proxy()], gateway="g1", create_gateway=True
    )
    assert store.current_revision() == 1


def test_list_by_kind(store: Store) -> None:
    store.apply_documents([provider(), provider("other", "/other"), proxy()], deploy=False)
    assert [r.metadata.name for r in store.list_resources("LLMProvider")] == ["openai", "other"]
    assert [r.kind for r in store.list_resources()] == ["LLMProvider", "LLMProvider", "LLMProxy"]


def test_integrity_errors_name_resource_and_field(store: Store) -> None:
    with pytest.raises(ResourceValidationError) as caught:
        store.apply_resource(proxy(provider_name="missing"))
    assert caught.value.document == "LLMProxy 'team'"
    assert caught.value.field == "spec.provider"
    assert "no LLMProvider named 'missing'" in str(caught.value)
    assert store.list_resources() == []


def test_integrity_checked_against_stored_contents(store: Store) -> None:
    store.apply_resource(provider())
    with pytest.raises(ResourceValidationError) as caught:
        store.apply_resource(provider("copy", "/openai"))
    assert caught.value.field == "spec.context"
    assert "already the context of LLMProvider 'openai'" in str(caught.value)
    assert store.apply_resource(proxy()) == "created"  # the stored provider satisfies the proxy


def test_several_errors_reported_together_and_nothing_applied(store: Store) -> None:
    bad = [
        doc("LLMProvider", "azure", template="azure-openai", context="/az", credential={"secret": "nope"}),
        doc("LLMProvider", "custom", template="mine", context="/c"),
        api_key(target="ghost"),
    ]
    with pytest.raises(ResourceValidationGroupError) as caught:
        store.apply_documents(bad)
    fields = {(e.document, e.field) for e in caught.value.errors}
    assert fields == {
        ("LLMProvider 'azure'", "spec.upstreamUrl"),
        ("LLMProvider 'azure'", "spec.credential.secret"),
        ("LLMProvider 'custom'", "spec.template"),
        ("APIKey 'team-key'", "spec.target.name"),
    }
    assert store.list_resources() == [] and store.list_keys() == [] and store.current_revision() == 0


def test_custom_template_in_the_store_is_known(store: Store) -> None:
    template = doc("ProviderTemplate", "mine", baseUrl="https://llm.internal")
    assert (
        store.apply_documents([template, doc("LLMProvider", "p", template="mine", context="/p")]).outcome(
            "LLMProvider", "p"
        )
        == "created"
    )


def test_delete_refuses_a_provider_a_proxy_uses(store: Store) -> None:
    store.apply_documents([provider(), proxy()])
    with pytest.raises(ResourceConflictError, match="LLMProxy 'team'"):
        store.delete_resource("LLMProvider", "openai")
    store.delete_resource("LLMProxy", "team")
    store.delete_resource("LLMProvider", "openai")
    with pytest.raises(ResourceNotFoundError):
        store.get_resource("LLMProvider", "openai")


def test_delete_undeploys_and_revokes_keys(store: Store) -> None:
    report = store.apply_documents([provider(), proxy(), api_key()])
    assert len(report.new_keys) == 1
    store.delete_resource("LLMProxy", "team")
    assert [d.name for d in store.list_deployments("default")] == ["openai"]
    assert all(k.revoked_at is not None for k in store.list_keys())


def test_delete_refuses_a_used_template_and_secret(store: Store) -> None:
    store.apply_documents(
        [
            secret(),
            doc("ProviderTemplate", "mine", baseUrl="https://x.example"),
            doc("LLMProvider", "p", template="mine", context="/p", credential={"secret": "openai-key"}),
        ]
    )
    with pytest.raises(ResourceConflictError, match="LLMProvider 'p'"):
        store.delete_resource("ProviderTemplate", "mine")
    with pytest.raises(ResourceConflictError, match="p"):
        store.delete_secret("openai-key")


def test_missing_resource(store: Store) -> None:
    with pytest.raises(ResourceNotFoundError, match="no LLMProxy named 'x'"):
        store.get_resource("LLMProxy", "x")
    with pytest.raises(ResourceNotFoundError):
        store.delete_resource("LLMProxy", "x")
