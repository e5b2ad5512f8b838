"""Context values: dot segments and the reserved /_tollgate prefix are refused with the field named."""

from __future__ import annotations

import pytest

from tollgate.errors import ResourceValidationError
from tollgate.resources.loader import parse_document
from tollgate.resources.models import RESERVED_CONTEXT_PREFIX, LLMProvider, LLMProxy

DOTS = "must not contain '.' or '..' segments (clients and proxies resolve them away)"
RESERVED = "'/_tollgate' and the paths below it are reserved for the gateway itself"


def provider(context: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "tollgate.dev/v1",
        "kind": "LLMProvider",
        "metadata": {"name": "p"},
        "spec": {"template": "openai", "context": context, **spec},
    }


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        ("/../admin", DOTS),
        ("/a/../x", DOTS),
        ("/a/./x", DOTS),
        ("/..", DOTS),
        ("/a/..", DOTS),
        ("/_tollgate", RESERVED),
        ("/_tollgate/health", RESERVED),
        ("/_tollgate/", RESERVED),
    ],
)
def test_refused_contexts_name_the_field(context: str, reason: str) -> None:
    with pytest.raises(ResourceValidationError) as caught:
        parse_document(provider(context), "doc")
    assert (caught.value.field, caught.value.reason) == ("spec.context", reason)
    proxy = {"apiVersion": "tollgate.dev/v1", "kind": "LLMProxy", "metadata": {"name": "x"}}
    with pytest.raises(ResourceValidationError) as caught:
        parse_document({**proxy, "spec": {"provider": "p", "context": context}}, "doc")
    assert (caught.value.field, caught.value.reason) == ("spec.context", reason)


@pytest.mark.parametrize("context", ["/a..b", "/...", "/.well", "/_tollgates", "/x/_tollgate", "/v1.2/chat"])
def test_dots_inside_a_segment_and_lookalikes_are_fine(context: str) -> None:
    parsed = parse_document(provider(context), "doc")
    assert isinstance(parsed, LLMProvider) and parsed.spec.context == context


def test_allow_shadowing_defaults_to_false_and_round_trips() -> None:
    assert RESERVED_CONTEXT_PREFIX == "/_tollgate"
    parsed = parse_document(provider("/a"), "doc")
    assert isinstance(parsed, LLMProvider) and parsed.spec.allow_shadowing is False
    parsed = parse_document(provider("/a/v1", allowShadowing=True), "doc")
    assert isinstance(parsed, LLMProvider) and parsed.spec.allow_shadowing is True
    assert parsed.model_dump(by_alias=True)["spec"]["allowShadowing"] is True
    proxy = LLMProxy.model_validate(
        {"metadata": {"name": "x"}, "spec": {"provider": "p", "context": "/x", "allowShadowing": True}}
    )
    assert proxy.spec.allow_shadowing is True
