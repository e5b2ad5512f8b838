"""The openai-compatible template: the OpenAI client API and backend with no default upstream (vLLM, Ollama, ...).

The provider must give `upstreamUrl`. Usage injection stays on: current OpenAI-compatible servers
accept `stream_options.include_usage`.
"""

from __future__ import annotations

from tollgate.providers.openai import TEMPLATE as OPENAI_TEMPLATE
from tollgate.providers.openai import openai_template
from tollgate.providers.template import Template
from tollgate.resources.models import TemplateSpec

__all__ = ["TEMPLATE", "openai_compatible_template"]

TEMPLATE = OPENAI_TEMPLATE.model_copy(update={"base_url": None}, deep=True)


def openai_compatible_template(name: str = "openai-compatible", spec: TemplateSpec = TEMPLATE) -> Template:
    """The OpenAI template under another name and without a default base URL."""
    return openai_template(name, spec)
