"""The built-in templates by name, and the one function that turns a template into its adapter.

Built-in names get their vendor class (for its quirks); any other name is a custom template and
gets the generic `TemplateProvider`. Called at snapshot compile, never per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tollgate.providers import anthropic, azure_ai_foundry, azure_openai, gemini, mistral, openai, openai_compatible
from tollgate.providers.base import ProviderAdapter
from tollgate.providers.template import TemplateProvider
from tollgate.resources.models import TemplateSpec

__all__ = ["BUILTIN_TEMPLATES", "build_adapter", "is_builtin"]

#: built-in template name → its spec (data; copy before changing)
BUILTIN_TEMPLATES: Mapping[str, TemplateSpec] = MappingProxyType(
    {
        "openai": openai.TEMPLATE,
        "anthropic": anthropic.TEMPLATE,
        "gemini": gemini.TEMPLATE,
        "mistral": mistral.TEMPLATE,
        "azure-openai": azure_openai.TEMPLATE,
        "azure-ai-foundry": azure_ai_foundry.TEMPLATE,
        "openai-compatible": openai_compatible.TEMPLATE,
    }
)

_CLASSES: Mapping[str, Callable[[str, TemplateSpec], ProviderAdapter]] = MappingProxyType(
    {
        "openai": openai.OpenAIProvider,
        "anthropic": anthropic.AnthropicProvider,
        "gemini": gemini.GeminiProvider,
        "mistral": mistral.MistralProvider,
        "azure-openai": azure_openai.AzureOpenAIProvider,
        "azure-ai-foundry": azure_ai_foundry.AzureAIFoundryProvider,
        "openai-compatible": openai_compatible.OpenAICompatibleProvider,
    }
)


def is_builtin(name: str) -> bool:
    """Whether `name` is one of the seven built-in templates."""
    return name in _CLASSES


def build_adapter(name: str, spec: TemplateSpec) -> ProviderAdapter:
    """The adapter for template `name` described by `spec`.

    A built-in name keeps its vendor quirks even when `spec` overrides fields (e.g. a base URL);
    any other name gets the generic, purely declarative `TemplateProvider`. Raises
    `ResourceValidationError` when a pattern in `spec` does not compile.
    """
    factory = _CLASSES.get(name)
    if factory is None:
        return TemplateProvider(name, spec)
    return factory(name, spec)
