"""The built-in templates by name, and the one function that compiles a template into its two halves.

Built-in names get their vendor classes (for their quirks); any other name is a custom template and
gets the generic `TemplateClientAPI` + `TemplateBackend`. Called at snapshot compile, never per request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tollgate.providers import anthropic, azure_ai_foundry, azure_openai, gemini, mistral, openai, openai_compatible
from tollgate.providers.template import Template, TemplateBackend, TemplateClientAPI
from tollgate.resources.models import TemplateSpec

__all__ = ["BUILTIN_TEMPLATES", "build_template"]

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

_BUILDERS: Mapping[str, Callable[[str, TemplateSpec], Template]] = MappingProxyType(
    {
        "openai": openai.openai_template,
        "anthropic": anthropic.anthropic_template,
        "gemini": gemini.gemini_template,
        "mistral": mistral.mistral_template,
        "azure-openai": azure_openai.azure_openai_template,
        "azure-ai-foundry": azure_ai_foundry.azure_ai_foundry_template,
        "openai-compatible": openai_compatible.openai_compatible_template,
    }
)


def build_template(name: str, spec: TemplateSpec) -> Template:
    """The client API and backend of template `name` described by `spec`.

    A built-in name keeps its vendor quirks even when `spec` overrides fields (e.g. a base URL);
    any other name gets the generic, purely declarative halves. Raises `ResourceValidationError`
    when a pattern in `spec` does not compile.
    """
    builder = _BUILDERS.get(name)
    if builder is None:
        return Template(name, TemplateClientAPI(name, spec), TemplateBackend(name, spec))
    return builder(name, spec)
