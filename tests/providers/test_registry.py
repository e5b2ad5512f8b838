"""Tests for providers/registry.py and translators.py: the seven built-ins, custom templates, translator pairs."""

from __future__ import annotations

import pytest

from tollgate.providers.anthropic import AnthropicBackend
from tollgate.providers.azure_ai_foundry import FoundryPassThrough
from tollgate.providers.azure_openai import AzureOpenAIPassThrough
from tollgate.providers.base import PassThrough
from tollgate.providers.gemini import GeminiBackend, GeminiClientAPI
from tollgate.providers.openai import OpenAIBackend, OpenAIClientAPI, OpenAIPassThrough
from tollgate.providers.registry import BUILTIN_TEMPLATES, build_template
from tollgate.providers.template import TemplateBackend, TemplateClientAPI
from tollgate.providers.translators import translator_for
from tollgate.resources.models import TemplateSpec

CLASSES = {
    "openai": (OpenAIClientAPI, OpenAIBackend, OpenAIPassThrough),
    "anthropic": (TemplateClientAPI, AnthropicBackend, PassThrough),
    "gemini": (GeminiClientAPI, GeminiBackend, PassThrough),
    "mistral": (OpenAIClientAPI, OpenAIBackend, OpenAIPassThrough),
    "azure-openai": (OpenAIClientAPI, OpenAIBackend, AzureOpenAIPassThrough),
    "azure-ai-foundry": (OpenAIClientAPI, OpenAIBackend, FoundryPassThrough),
    "openai-compatible": (OpenAIClientAPI, OpenAIBackend, OpenAIPassThrough),
}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_builtin_names_get_their_vendor_classes(name: str) -> None:
    template = build_template(name, BUILTIN_TEMPLATES[name])
    client_cls, backend_cls, translator_cls = CLASSES[name]
    assert type(template.client) is client_cls and type(template.backend) is backend_cls
    assert type(template.backend.pass_through) is translator_cls
    assert template.name == template.client.name == template.backend.name == name
    assert template.default_base_url == BUILTIN_TEMPLATES[name].base_url
    assert translator_for(template.client, template.backend) is template.backend.pass_through


def test_mistral_and_foundry_inject_no_usage() -> None:
    for name in ("mistral", "azure-ai-foundry"):
        translator = build_template(name, BUILTIN_TEMPLATES[name]).backend.pass_through
        assert getattr(translator, "inject_usage", False) is False
    assert build_template("openai", BUILTIN_TEMPLATES["openai"]).backend.pass_through.inject_usage is True  # type: ignore[attr-defined]


def test_the_registry_lists_exactly_the_seven_builtins() -> None:
    assert set(BUILTIN_TEMPLATES) == set(CLASSES)


def test_a_builtin_keeps_its_quirks_with_an_overridden_spec() -> None:
    spec = BUILTIN_TEMPLATES["openai"].model_copy(update={"base_url": "http://127.0.0.1:9999"})
    template = build_template("openai", spec)
    assert isinstance(template.backend, OpenAIBackend)
    assert template.default_base_url == "http://127.0.0.1:9999"


def test_custom_names_get_the_generic_halves() -> None:
    template = build_template("my-vendor", TemplateSpec())
    assert type(template.client) is TemplateClientAPI and type(template.backend) is TemplateBackend
    assert template.default_base_url is None


def test_pairs_of_different_vendors_use_the_pair_translators() -> None:
    openai = build_template("openai", BUILTIN_TEMPLATES["openai"])
    anthropic = build_template("anthropic", BUILTIN_TEMPLATES["anthropic"])
    translator = translator_for(openai.client, anthropic.backend)
    assert translator is not None and translator.name == "openai->anthropic"
    custom = build_template("my-vendor", TemplateSpec())
    assert translator_for(openai.client, custom.backend) is None
