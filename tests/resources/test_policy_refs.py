"""spec.policies on providers and proxies: a bad policy is refused at load/apply, naming document, policy and field."""

from __future__ import annotations

import pytest

from tollgate.errors import ResourceValidationError
from tollgate.resources.loader import parse_document
from tollgate.resources.models import LLMProvider, LLMProxy


def _proxy(policies: list[dict[str, object]]) -> dict[str, object]:
    return {
        "apiVersion": "tollgate.dev/v1",
        "kind": "LLMProxy",
        "metadata": {"name": "team-a"},
        "spec": {"provider": "openai", "context": "/team-a", "policies": policies},
    }


def test_valid_policies_parse_in_order() -> None:
    doc = parse_document(
        _proxy(
            [
                {"name": "rate-limit", "params": {"limits": [{"requests": 5, "per": "minute"}]}},
                {"name": "regex-guardrail", "params": {"patterns": ["secret"]}, "paths": [{"path": "/v1/chat/**"}]},
            ]
        ),
        "team.yaml",
    )
    assert isinstance(doc, LLMProxy)
    assert [p.name for p in doc.spec.policies] == ["rate-limit", "regex-guardrail"]
    assert doc.spec.policies[1].paths[0].path == "/v1/chat/**"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            {"name": "rate-limit", "params": {"limits": [{"requests": -1, "per": "minute"}]}},
            "team.yaml (LLMProxy 'team-a'): spec.policies.1: policy 'rate-limit': params.limits[0].requests: "
            "Input should be greater than 0",
        ),
        (
            {"name": "token-limit", "params": {"limits": [{"tokens": 9, "per": "fortnight"}]}},
            "team.yaml (LLMProxy 'team-a'): spec.policies.1: policy 'token-limit': params.limits[0].per: "
            "'fortnight' is not a duration such as 'minute', '90s', '5m', '1d'",
        ),
        (
            {"name": "regex-guardrail", "params": {"patterns": ["("]}},
            "team.yaml (LLMProxy 'team-a'): spec.policies.1: policy 'regex-guardrail': params.patterns: "
            "pattern 0 is not a valid regular expression: missing ), unterminated subpattern at position 0",
        ),
        (
            {"name": "rate-limit", "params": {"limits": [{"requests": 1, "per": 60}]}, "paths": [{"path": "v1"}]},
            "team.yaml (LLMProxy 'team-a'): spec.policies.1.paths.0.path: must start with '/'",
        ),
    ],
)
def test_bad_policy_names_document_policy_and_field(policy: dict[str, object], message: str) -> None:
    ok = {"name": "model-allowlist", "params": {"models": ["gpt-4o"]}}
    with pytest.raises(ResourceValidationError) as info:
        parse_document(_proxy([ok, policy]), "team.yaml")
    assert str(info.value) == message


def test_provider_policies() -> None:
    doc = parse_document(
        {
            "apiVersion": "tollgate.dev/v1",
            "kind": "LLMProvider",
            "metadata": {"name": "openai"},
            "spec": {
                "template": "openai",
                "context": "/openai",
                "policies": [
                    {"name": "token-limit", "params": {"scope": "provider", "limits": [{"tokens": 1000, "per": "day"}]}}
                ],
            },
        },
        "p.yaml",
    )
    assert isinstance(doc, LLMProvider) and doc.spec.policies[0].params["scope"] == "provider"
