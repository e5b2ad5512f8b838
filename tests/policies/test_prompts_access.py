"""Prompt decorator and templates per client API, access control, the model allow-list, the registry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tollgate.errors import BadRequestError, ModelNotAllowedError, PermissionDeniedError, ResourceValidationError
from tollgate.policies.access_control import AccessControl, AccessControlParams
from tollgate.policies.model_allowlist import ModelAllowlist, ModelAllowlistParams
from tollgate.policies.prompt_decorator import PromptDecorator, PromptDecoratorParams
from tollgate.policies.prompt_template import PromptTemplateParams, PromptTemplates
from tollgate.policies.registry import BUILTIN_POLICIES, policy_schemas, validate_params

DECO = PromptDecoratorParams.model_validate(
    {
        "system": "Be brief.",
        "prepend": [{"role": "user", "content": "ctx"}],
        "append": [{"role": "user", "content": "end"}],
    }
)


def test_decorator_openai_chat() -> None:
    body = {"messages": [{"role": "system", "content": "Client sys"}, {"role": "user", "content": "q"}]}
    PromptDecorator(DECO).decorate("openai", body)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\n\nClient sys"},
        {"role": "user", "content": "ctx"},
        {"role": "user", "content": "q"},
        {"role": "user", "content": "end"},
    ]


def test_decorator_anthropic_gemini_responses() -> None:
    body: dict[str, object] = {"messages": [{"role": "user", "content": "q"}]}
    PromptDecorator(DECO).decorate("anthropic", body)  # type: ignore[arg-type]
    assert body == {
        "messages": [
            {"role": "user", "content": "ctx"},
            {"role": "user", "content": "q"},
            {"role": "user", "content": "end"},
        ],
        "system": "Be brief.",
    }
    gem: dict[str, object] = {"contents": [{"role": "user", "parts": [{"text": "q"}]}]}
    PromptDecorator(DECO).decorate("gemini", gem)  # type: ignore[arg-type]
    assert gem["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["parts"][0]["text"] for c in gem["contents"]] == ["ctx", "q", "end"]  # type: ignore[attr-defined,index]
    resp: dict[str, object] = {"input": "q"}
    PromptDecorator(DECO).decorate("openai", resp)  # type: ignore[arg-type]
    assert resp == {
        "input": [
            {"role": "user", "content": "ctx"},
            {"role": "user", "content": "q"},
            {"role": "user", "content": "end"},
        ],
        "instructions": "Be brief.",
    }
    replace = PromptDecorator(PromptDecoratorParams.model_validate({"system": "Only this.", "systemMode": "replace"}))
    body2: dict[str, object] = {"messages": [{"role": "system", "content": "old"}, {"role": "user", "content": "q"}]}
    replace.decorate("openai", body2)  # type: ignore[arg-type]
    assert body2["messages"] == [{"role": "system", "content": "Only this."}, {"role": "user", "content": "q"}]


def test_decorator_params_need_something() -> None:
    with pytest.raises(ValidationError, match="give at least one of system, prepend or append"):
        PromptDecoratorParams.model_validate({})
    with pytest.raises(ValidationError) as info:
        PromptDecoratorParams.model_validate({"append": [{"role": "robot", "content": "x"}]})
    assert info.value.errors()[0]["loc"] == ("append", 0, "role")


TEMPLATES = PromptTemplateParams.model_validate(
    {
        "templates": [
            {
                "name": "summarize",
                "messages": [
                    {"role": "system", "content": "You summarize in {{style}} style."},
                    {"role": "user", "content": "Summarize: {{ text }}"},
                ],
                "defaults": {"style": "plain"},
            }
        ]
    }
)


def test_template_renders_per_api() -> None:
    body: dict[str, object] = {"model": "m", "prompt_template": {"name": "summarize", "variables": {"text": "abc"}}}
    assert PromptTemplates(TEMPLATES).apply("anthropic", body)  # type: ignore[arg-type]
    assert body == {
        "model": "m",
        "system": "You summarize in plain style.",
        "messages": [{"role": "user", "content": "Summarize: abc"}],
    }
    plain: dict[str, object] = {"messages": []}
    assert not PromptTemplates(TEMPLATES).apply("openai", plain)  # type: ignore[arg-type]


def test_template_errors() -> None:
    templates = PromptTemplates(TEMPLATES)
    with pytest.raises(BadRequestError, match=r"prompt_template.variables: missing text\."):
        templates.apply("openai", {"prompt_template": {"name": "summarize"}})
    with pytest.raises(BadRequestError, match="no template named 'nope'"):
        templates.apply("openai", {"prompt_template": {"name": "nope"}})
    strict = PromptTemplates(
        PromptTemplateParams.model_validate({**TEMPLATES.model_dump(by_alias=True), "allowUntemplated": False})
    )
    with pytest.raises(BadRequestError, match="only accepts requests that name a prompt_template"):
        strict.apply("openai", {"messages": []})
    with pytest.raises(ValidationError, match="used twice"):
        PromptTemplateParams.model_validate(
            {"templates": [{"name": "a", "messages": [{"role": "user", "content": "x"}]}] * 2}
        )


def test_access_control_both_defaults() -> None:
    deny = AccessControl(
        AccessControlParams.model_validate(
            {
                "default": "deny",
                "exceptions": [
                    {"path": "/v1/chat/completions", "methods": ["POST"]},
                    {"path": "/v1/models/**", "methods": ["GET"]},
                ],
            }
        )
    )
    assert deny.allows("POST", "/v1/chat/completions")
    assert not deny.allows("GET", "/v1/chat/completions")
    assert deny.allows("GET", "/v1/models/gpt-4o")
    assert not deny.allows("POST", "/v1/embeddings")
    with pytest.raises(PermissionDeniedError, match=r"POST /v1/embeddings is not exposed on this API\."):
        deny.check("POST", "/v1/embeddings")
    allow = AccessControl(
        AccessControlParams.model_validate({"default": "allow", "exceptions": [{"path": "/v1/*/batches"}]})
    )
    assert allow.allows("POST", "/v1/chat/completions")
    assert not allow.allows("GET", "/v1/x/batches")
    assert allow.allows("GET", "/v1/x/y/batches")
    with pytest.raises(ValidationError) as info:
        AccessControlParams.model_validate({"default": "allow", "exceptions": [{"path": "v1"}]})
    assert info.value.errors()[0]["loc"] == ("exceptions", 0, "path")


def test_model_allowlist() -> None:
    allow = ModelAllowlist(ModelAllowlistParams.model_validate({"models": ["gpt-4o-mini", "claude-*"]}))
    assert allow.allows("gpt-4o-mini") and allow.allows("claude-3-haiku") and allow.allows(None)
    assert not allow.allows("gpt-4o")
    with pytest.raises(ModelNotAllowedError, match=r"Model 'gpt-4o' is not allowed on this API\."):
        allow.check("gpt-4o")


def test_registry_validation_names_document_policy_and_field() -> None:
    with pytest.raises(ResourceValidationError) as info:
        validate_params(
            "LLMProxy/team-a", "spec.policies[1]", "rate-limit", {"limits": [{"requests": -1, "per": "minute"}]}
        )
    assert str(info.value) == (
        "LLMProxy/team-a: spec.policies[1].params.limits[0].requests: Input should be greater than 0"
    )
    with pytest.raises(ResourceValidationError) as info:
        validate_params("LLMProvider/openai", "spec.policies[0]", "rate-limitt", {})
    assert info.value.field == "spec.policies[0].name" and "unknown policy 'rate-limitt'" in info.value.reason
    with pytest.raises(ResourceValidationError) as info:
        validate_params("LLMProxy/x", "spec.policies[0]", "word-count-guardrail", {"min": 3, "max": 1})
    assert info.value.field == "spec.policies[0].params" and info.value.reason == "min (3) is larger than max (1)"


def test_registry_lists_every_policy_with_a_schema() -> None:
    schemas = policy_schemas()
    assert [s["name"] for s in schemas] == list(BUILTIN_POLICIES)
    assert len(schemas) == 16
    token = next(s for s in schemas if s["name"] == "token-limit")
    props = token["parameters"]["properties"]  # type: ignore[index]
    assert props["defaultMaxTokens"]["default"] == 1024  # type: ignore[index]
    assert "limits" in token["parameters"]["required"]  # type: ignore[index]
