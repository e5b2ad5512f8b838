"""The Mistral template: OpenAI-style paths and usage, Mistral's own error object.

Mistral streams already report usage in their final chunk, so nothing is injected or dropped. The
Mistral SDK validates strictly (sdk-contract.md §3.4): responses pass through untouched.
"""

from __future__ import annotations

from tollgate.providers.openai import TEMPLATE as OPENAI_TEMPLATE
from tollgate.providers.openai import OpenAIBackend, OpenAIClientAPI
from tollgate.providers.template import Template
from tollgate.resources.models import TemplateSpec

__all__ = ["TEMPLATE", "mistral_template"]

TEMPLATE = OPENAI_TEMPLATE.model_copy(
    update={"base_url": "https://api.mistral.ai", "error_format": "mistral"}, deep=True
)


def mistral_template(name: str = "mistral", spec: TemplateSpec = TEMPLATE) -> Template:
    """The OpenAI client API and backend without usage injection, with Mistral's error shape (in `spec`)."""
    return Template(name, OpenAIClientAPI(name, spec), OpenAIBackend(name, spec, inject_usage=False))
