"""The built-in policies: name -> (Params model, build function, description), and their validation.

`validate_params` is what `apply` calls: a bad parameter is a ResourceValidationError naming the
document, the policy's place in the list and the field. `policy_schemas` is what `tollgate policies`
and the management API list. Adding a policy means adding its module here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from pydantic import ValidationError

from tollgate.errors import ResourceValidationError
from tollgate.policies import (
    access_control,
    content_length,
    cost_limit,
    http_guardrail,
    json_schema,
    model_allowlist,
    pii_mask,
    prompt_decorator,
    prompt_template,
    rate_limit,
    regex_guardrail,
    response_cache,
    sentence_count,
    token_limit,
    url_guardrail,
    word_count,
)
from tollgate.policies.env import BuildEnv
from tollgate.policies.params import PolicyParams
from tollgate.types import JSONObject

__all__ = ["BUILTIN_POLICIES", "PolicyType", "policy_schemas", "validate_params"]


@dataclass(frozen=True, slots=True)
class PolicyType:
    name: str
    description: str
    category: str
    params: type[PolicyParams]
    build: Callable[[PolicyParams, BuildEnv], object]


def _entry(module: ModuleType, category: str, params: type[PolicyParams]) -> PolicyType:
    return PolicyType(module.NAME, module.DESCRIPTION, category, params, module.build)


BUILTIN_POLICIES: dict[str, PolicyType] = {
    p.name: p
    for p in (
        _entry(rate_limit, "limits", rate_limit.RateLimitParams),
        _entry(token_limit, "limits", token_limit.TokenLimitParams),
        _entry(cost_limit, "limits", cost_limit.CostLimitParams),
        _entry(regex_guardrail, "guardrails", regex_guardrail.RegexGuardrailParams),
        _entry(word_count, "guardrails", word_count.WordCountParams),
        _entry(sentence_count, "guardrails", sentence_count.SentenceCountParams),
        _entry(content_length, "guardrails", content_length.ContentLengthParams),
        _entry(json_schema, "guardrails", json_schema.JSONSchemaParams),
        _entry(url_guardrail, "guardrails", url_guardrail.URLGuardrailParams),
        _entry(http_guardrail, "guardrails", http_guardrail.HTTPGuardrailParams),
        _entry(pii_mask, "guardrails", pii_mask.PIIMaskParams),
        _entry(prompt_decorator, "prompts", prompt_decorator.PromptDecoratorParams),
        _entry(prompt_template, "prompts", prompt_template.PromptTemplateParams),
        _entry(access_control, "access", access_control.AccessControlParams),
        _entry(model_allowlist, "access", model_allowlist.ModelAllowlistParams),
        _entry(response_cache, "caching", response_cache.ResponseCacheParams),
    )
}


def validate_params(document: str, where: str, name: str, params: JSONObject | None) -> PolicyParams:
    """The typed params of policy `name`, or ResourceValidationError naming `document`, `where`
    (e.g. `spec.policies[2]`) and the field."""
    policy = BUILTIN_POLICIES.get(name)
    if policy is None:
        known = ", ".join(sorted(BUILTIN_POLICIES))
        raise ResourceValidationError(document, f"{where}.name", f"unknown policy {name!r} (known: {known})")
    try:
        return policy.params.model_validate(params or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ResourceValidationError(document, f"{where}.params{loc}", message) from None


def policy_schemas() -> list[JSONObject]:
    """Every built-in policy with its description and its parameters' JSON Schema (camelCase names)."""
    return [
        {
            "name": p.name,
            "category": p.category,
            "description": p.description,
            "parameters": p.params.model_json_schema(by_alias=True),
        }
        for p in BUILTIN_POLICIES.values()
    ]
