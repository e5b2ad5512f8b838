"""Cross-resource integrity of a whole resource set: references resolve and contexts do not collide.

Field values are the models' job (`resources.models`); this module checks only what needs several
resources at once. It knows no vendor: the caller passes the built-in templates and their base URLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from tollgate.errors import ResourceValidationError, raise_validation_errors
from tollgate.resources.models import APIKey, LLMProvider, LLMProxy, ProviderTemplate, Resource, Secret

_T = TypeVar("_T")


def check_integrity(
    resources: Iterable[Resource],
    *,
    known_templates: Mapping[str, str | None],
    secret_names: Iterable[str] = (),
) -> None:
    """Raise every integrity error of `resources` at once (a `ResourceValidationGroupError` if several).

    `known_templates` maps each built-in template name to its default base URL (None when the
    template has none, as azure-openai, azure-ai-foundry and openai-compatible). ProviderTemplates in
    `resources` are added to it. Rules: names are unique per kind; a custom template does not reuse a
    built-in name; a provider's template exists; a provider whose template has no base URL sets
    `upstreamUrl`; a credential `secret:` names an existing Secret; a proxy names an existing provider (and fallbacks);
    a semantic cache's embeddings provider (`params.semantic.provider`) exists;
    an APIKey's target exists; no two providers/proxies share a context (nested contexts may be stored:
    deploying two nested ones on one gateway is refused unless the inner one sets `allowShadowing`,
    see `resources.contexts` and `store.apply.deploy_current`). `secret_names` adds Secrets known
    without their documents (the store keeps only encrypted values).
    """
    raise_validation_errors(integrity_errors(resources, known_templates=known_templates, secret_names=secret_names))


def integrity_errors(
    resources: Iterable[Resource],
    *,
    known_templates: Mapping[str, str | None],
    secret_names: Iterable[str] = (),
    existing: Mapping[str, Iterable[str]] | None = None,
) -> list[ResourceValidationError]:
    """The errors `check_integrity` would raise, as a list (empty when the set is consistent).

    `existing` names providers and proxies known to exist without their documents (kind -> names),
    for references to resolve against (the store's apply passes what it found by index).
    """
    items = list(resources)
    errors = _duplicate_errors(items)
    templates: dict[str, str | None] = dict(known_templates)
    for template in _of(items, ProviderTemplate):
        if template.metadata.name in known_templates:
            errors.append(_err(template, "metadata.name", "is the name of a built-in template; choose another"))
        else:
            templates[template.metadata.name] = template.spec.base_url
    known = existing or {}
    providers = {p.metadata.name for p in _of(items, LLMProvider)} | set(known.get("LLMProvider", ()))
    proxies = {p.metadata.name for p in _of(items, LLMProxy)} | set(known.get("LLMProxy", ()))
    secrets = {s.metadata.name for s in _of(items, Secret)} | set(secret_names)

    for provider in _of(items, LLMProvider):
        spec = provider.spec
        if spec.template not in templates:
            errors.append(
                _err(provider, "spec.template", f"unknown template {spec.template!r} (known: {_names(templates)})")
            )
        elif templates[spec.template] is None and spec.upstream_url is None:
            errors.append(
                _err(
                    provider,
                    "spec.upstreamUrl",
                    f"is required: template {spec.template!r} has no default base URL",
                )
            )
        for path, secret in spec.secret_refs().items():
            if secret not in secrets:
                errors.append(_err(provider, path, f"no Secret named {secret!r} exists"))
    for proxy in _of(items, LLMProxy):
        if proxy.spec.provider not in providers:
            errors.append(_err(proxy, "spec.provider", f"no LLMProvider named {proxy.spec.provider!r} exists"))
        for index, fallback in enumerate(proxy.spec.fallbacks):
            if fallback not in providers:
                errors.append(_err(proxy, f"spec.fallbacks.{index}", f"no LLMProvider named {fallback!r} exists"))
    routed_docs: list[LLMProvider | LLMProxy] = [*_of(items, LLMProvider), *_of(items, LLMProxy)]
    for routed in routed_docs:
        for index, ref in enumerate(routed.spec.policies):
            named = _semantic_provider(ref.params)
            if named is not None and named not in providers:
                field = f"spec.policies.{index}.params.semantic.provider"
                errors.append(_err(routed, field, f"no LLMProvider named {named!r} exists"))
    for key in _of(items, APIKey):
        target = key.spec.target
        pool = providers if target.kind == "LLMProvider" else proxies
        if target.name not in pool:
            errors.append(_err(key, "spec.target.name", f"no {target.kind} named {target.name!r} exists"))
    errors.extend(_context_errors([r for r in items if isinstance(r, LLMProvider | LLMProxy)]))
    return errors


def _semantic_provider(params: Mapping[str, object]) -> str | None:
    """The provider a semantic cache embeds with (`params.semantic.provider`), if the policy names one."""
    semantic = params.get("semantic")
    named = semantic.get("provider") if isinstance(semantic, dict) else None
    return named if isinstance(named, str) else None


def _context_errors(routed: list[LLMProvider | LLMProxy]) -> list[ResourceValidationError]:
    """Equal contexts collide; the later resource in input order gets the error naming the earlier one
    (the store passes its stored resources first, so the newcomer is blamed)."""
    owners: dict[str, LLMProvider | LLMProxy] = {}
    errors: list[ResourceValidationError] = []
    for resource in routed:
        context = resource.spec.context
        owner = owners.get(context)
        if owner is not None:
            errors.append(
                _err(
                    resource,
                    "spec.context",
                    f"{context!r} is already the context of {owner.kind} {owner.metadata.name!r}",
                )
            )
        else:
            owners[context] = resource
    return errors


def _duplicate_errors(items: list[Resource]) -> list[ResourceValidationError]:
    seen: set[tuple[str, str]] = set()
    errors: list[ResourceValidationError] = []
    for resource in items:
        key = (resource.kind, resource.metadata.name)
        if key in seen:
            errors.append(_err(resource, "metadata.name", "is defined more than once"))
        seen.add(key)
    return errors


def _of(items: list[Resource], kind: type[_T]) -> list[_T]:
    return [item for item in items if isinstance(item, kind)]


def _err(resource: Resource, field: str, reason: str) -> ResourceValidationError:
    return ResourceValidationError(f"{resource.kind} {resource.metadata.name!r}", field, reason)


def _names(templates: Mapping[str, object]) -> str:
    return ", ".join(sorted(templates))
