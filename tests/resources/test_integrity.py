"""Cross-resource integrity: references, base URLs, key targets and context collisions."""

from __future__ import annotations

import pytest

from tollgate.errors import ResourceValidationError, ResourceValidationGroupError
from tollgate.resources.integrity import check_integrity, integrity_errors
from tollgate.resources.loader import parse_document
from tollgate.resources.models import Resource

BUILTINS: dict[str, str | None] = {"openai": "https://api.openai.com", "azure-openai": None}


def doc(kind: str, name: str, **spec: object) -> Resource:
    return parse_document(
        {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}, "t"
    )


def errors(*resources: Resource, secrets: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    return {(e.document, e.field) for e in integrity_errors(resources, known_templates=BUILTINS, secret_names=secrets)}


def test_consistent_set_passes() -> None:
    check_integrity(
        [
            doc("Secret", "k", value="v"),
            doc("LLMProvider", "p", template="openai", context="/p", credential={"secret": "k"}),
            doc("LLMProxy", "x", provider="p", context="/p/team"),  # nested contexts are fine
            doc("APIKey", "key", target={"kind": "LLMProxy", "name": "x"}),
        ],
        known_templates=BUILTINS,
    )


def test_missing_references() -> None:
    assert errors(
        doc("LLMProvider", "p", template="nope", context="/p", credential={"secret": "gone"}),
        doc("LLMProxy", "x", provider="ghost", context="/x"),
        doc("APIKey", "key", target={"kind": "LLMProvider", "name": "x"}),
    ) == {
        ("LLMProvider 'p'", "spec.template"),
        ("LLMProvider 'p'", "spec.credential.secret"),
        ("LLMProxy 'x'", "spec.provider"),
        ("APIKey 'key'", "spec.target.name"),
    }


def test_a_semantic_cache_names_an_existing_embeddings_provider() -> None:
    def cache(provider: str) -> list[dict[str, object]]:
        semantic = {"provider": provider, "model": "text-embedding-3-small"}
        return [{"name": "rate-limit", "params": {"limits": [{"requests": 1, "per": "minute"}]}},
                {"name": "response-cache", "params": {"semantic": semantic}}]  # fmt: skip

    assert errors(
        doc("LLMProvider", "p", template="openai", context="/p", policies=cache("p")),
        doc("LLMProxy", "x", provider="p", context="/x", policies=cache("embedder")),
    ) == {("LLMProxy 'x'", "spec.policies.1.params.semantic.provider")}


def test_secret_names_from_elsewhere_count() -> None:
    p = doc("LLMProvider", "p", template="openai", context="/p", credential={"secret": "stored"})
    assert errors(p, secrets=("stored",)) == set()


def test_upstream_url_required_without_template_base_url() -> None:
    assert errors(doc("LLMProvider", "az", template="azure-openai", context="/az")) == {
        ("LLMProvider 'az'", "spec.upstreamUrl")
    }
    assert (
        errors(doc("LLMProvider", "az", template="azure-openai", context="/az", upstreamUrl="https://x.example"))
        == set()
    )
    custom = doc("ProviderTemplate", "mine")
    assert errors(custom, doc("LLMProvider", "c", template="mine", context="/c")) == {
        ("LLMProvider 'c'", "spec.upstreamUrl")
    }


def test_custom_template_cannot_shadow_a_builtin() -> None:
    assert errors(doc("ProviderTemplate", "openai", baseUrl="https://x.example")) == {
        ("ProviderTemplate 'openai'", "metadata.name")
    }


def test_equal_contexts_collide_across_providers_and_proxies() -> None:
    with pytest.raises(ResourceValidationError) as caught:
        check_integrity(
            [
                doc("LLMProvider", "p", template="openai", context="/shared"),
                doc("LLMProxy", "x", provider="p", context="/shared/"),
            ],
            known_templates=BUILTINS,
        )
    assert caught.value.document == "LLMProxy 'x'" and caught.value.field == "spec.context"
    assert "'/shared' is already the context of LLMProvider 'p'" in caught.value.reason


def test_several_errors_come_as_a_group() -> None:
    with pytest.raises(ResourceValidationGroupError) as caught:
        check_integrity(
            [doc("LLMProxy", "a", provider="m", context="/a"), doc("LLMProxy", "b", provider="m", context="/a")],
            known_templates=BUILTINS,
        )
    assert len(caught.value.errors) == 3 and caught.value.document == "LLMProxy 'a'"


def test_duplicates() -> None:
    p = doc("LLMProvider", "p", template="openai", context="/p")
    assert ("LLMProvider 'p'", "metadata.name") in errors(p, p)
