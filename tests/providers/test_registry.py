"""Tests for providers/registry.py: the seven built-ins and custom templates."""

from __future__ import annotations

import pytest

from tollgate.providers.anthropic import AnthropicProvider
from tollgate.providers.azure_ai_foundry import AzureAIFoundryProvider
from tollgate.providers.azure_openai import AzureOpenAIProvider
from tollgate.providers.base import ProviderAdapter
from tollgate.providers.gemini import GeminiProvider
from tollgate.providers.mistral import MistralProvider
from tollgate.providers.openai import OpenAIProvider
from tollgate.providers.openai_compatible import OpenAICompatibleProvider
from tollgate.providers.registry import BUILTIN_TEMPLATES, build_adapter, is_builtin
from tollgate.providers.template import TemplateProvider
from tollgate.resources.models import TemplateSpec

CLASSES = {
    "openai": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
    "mistral": MistralProvider,
    "azure-openai": AzureOpenAIProvider,
    "azure-ai-foundry": AzureAIFoundryProvider,
    "openai-compatible": OpenAICompatibleProvider,
}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_builtin_names_get_their_vendor_class(name: str) -> None:
    assert is_builtin(name)
    adapter = build_adapter(name, BUILTIN_TEMPLATES[name])
    assert type(adapter) is CLASSES[name]
    assert adapter.name == name
    assert adapter.default_base_url == BUILTIN_TEMPLATES[name].base_url


def test_the_registry_lists_exactly_the_seven_builtins() -> None:
    assert set(BUILTIN_TEMPLATES) == set(CLASSES)


def test_a_builtin_keeps_its_quirks_with_an_overridden_spec() -> None:
    spec = BUILTIN_TEMPLATES["openai"].model_copy(update={"base_url": "http://127.0.0.1:9999"})
    adapter = build_adapter("openai", spec)
    assert isinstance(adapter, OpenAIProvider)
    assert adapter.default_base_url == "http://127.0.0.1:9999"


def test_custom_names_get_the_generic_adapter() -> None:
    adapter: ProviderAdapter = build_adapter("my-vendor", TemplateSpec())
    assert type(adapter) is TemplateProvider
    assert not is_builtin("my-vendor")
    assert adapter.default_base_url is None
