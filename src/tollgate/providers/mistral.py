"""The Mistral template: OpenAI-style paths and usage, Mistral's own error object.

Mistral streams already report usage in their final chunk, so nothing is injected or dropped. The
Mistral SDK validates strictly (sdk-contract.md §3.4): responses pass through untouched.
"""

from __future__ import annotations

from tollgate.providers.openai import TEMPLATE as OPENAI_TEMPLATE
from tollgate.providers.openai import OpenAIProvider
from tollgate.resources.models import TemplateSpec

__all__ = ["TEMPLATE", "MistralProvider"]

TEMPLATE = OPENAI_TEMPLATE.model_copy(
    update={"base_url": "https://api.mistral.ai", "error_format": "mistral"}, deep=True
)


class MistralProvider(OpenAIProvider):
    """The OpenAI adapter without usage injection, with Mistral's error shape."""

    def __init__(self, name: str = "mistral", spec: TemplateSpec = TEMPLATE) -> None:
        super().__init__(name, spec, inject_usage=False)
