"""The openai-compatible template: the OpenAI adapter with no default upstream (vLLM, Ollama, ...).

The provider must give `upstreamUrl`. Usage injection stays on: current OpenAI-compatible servers
accept `stream_options.include_usage`.
"""

from __future__ import annotations

from tollgate.providers.openai import TEMPLATE as OPENAI_TEMPLATE
from tollgate.providers.openai import OpenAIProvider
from tollgate.resources.models import TemplateSpec

__all__ = ["TEMPLATE", "OpenAICompatibleProvider"]

TEMPLATE = OPENAI_TEMPLATE.model_copy(update={"base_url": None}, deep=True)


class OpenAICompatibleProvider(OpenAIProvider):
    """The OpenAI adapter under another name and without a default base URL."""

    def __init__(self, name: str = "openai-compatible", spec: TemplateSpec = TEMPLATE) -> None:
        super().__init__(name, spec)
