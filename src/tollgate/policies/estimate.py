"""Cheap, conservative request-size estimates for the token and cost limits' reservations.

No tokenizer: the prompt estimate is the request body's size divided by `bytes_per_token`, which
over-counts (JSON syntax, roles and ids count too) for text in Latin scripts; the settle step
replaces it with the metered count. The completion reservation is the request's own output cap.
"""

from __future__ import annotations

import math

from tollgate.types import JSONObject

__all__ = ["DEFAULT_BYTES_PER_TOKEN", "estimate_prompt_tokens", "requested_max_tokens"]

#: Body bytes per estimated prompt token. Real tokenizers average ~4 characters per token on English.
DEFAULT_BYTES_PER_TOKEN = 3.0

#: Body fields that cap the completion, per client API (OpenAI chat: max_tokens or
#: max_completion_tokens; Responses: max_output_tokens; Anthropic and Mistral: max_tokens).
_CAP_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def estimate_prompt_tokens(body: bytes, bytes_per_token: float = DEFAULT_BYTES_PER_TOKEN) -> int:
    """Upper-bound guess of the prompt's tokens from the body size."""
    return math.ceil(len(body) / bytes_per_token)


def requested_max_tokens(body: JSONObject | None) -> int | None:
    """The completion cap the client asked for, wherever its API puts it; None when it set none."""
    if body is None:
        return None
    for name in _CAP_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    config = body.get("generationConfig") or body.get("generation_config")  # Gemini
    if isinstance(config, dict):
        value = config.get("maxOutputTokens", config.get("max_output_tokens"))
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None
