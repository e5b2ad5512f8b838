"""Where the text sits, per client API: the default JSONPaths guardrails read when the user names none.

Keyed by the client API family (`ClientAPI.name`); Azure OpenAI, Azure AI Foundry and Mistral speak
OpenAI's chat shape. `stream` paths apply to the JSON of one SSE event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tollgate.policies.jsonpath import JSONPath

__all__ = ["DEFAULT_API", "TextPaths", "text_paths"]


@dataclass(frozen=True, slots=True)
class TextPaths:
    """`stream_fields`: the same text as `stream`, found in raw event bytes without decoding the event:
    a JSON key followed by a string value (an unescaped `"key":"` cannot occur inside a JSON string,
    so a match is always a real field). Group 1 is the string's raw contents."""

    request: tuple[JSONPath, ...]
    response: tuple[JSONPath, ...]
    stream: tuple[JSONPath, ...]
    stream_fields: re.Pattern[bytes]


def _fields(*keys: str) -> re.Pattern[bytes]:
    names = "|".join(re.escape(k) for k in keys)
    return re.compile(rb'"(?:' + names.encode() + rb')"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _paths(*expressions: str) -> tuple[JSONPath, ...]:
    return tuple(JSONPath(e) for e in expressions)


_OPENAI = TextPaths(
    request=_paths("$.messages[*].content", "$.input", "$.instructions", "$.prompt"),
    response=_paths("$.choices[*].message.content", "$.output[*].content[*].text", "$.choices[*].text"),
    stream=_paths("$.choices[*].delta.content", "$.delta"),
    stream_fields=_fields("content", "delta"),
)
_ANTHROPIC = TextPaths(
    request=_paths("$.system", "$.messages[*].content"),
    response=_paths("$.content[*].text"),
    stream=_paths("$.delta.text"),
    stream_fields=_fields("text"),
)
_GEMINI = TextPaths(
    request=_paths("$.systemInstruction.parts[*].text", "$.contents[*].parts[*].text"),
    response=_paths("$.candidates[*].content.parts[*].text"),
    stream=_paths("$.candidates[*].content.parts[*].text"),
    stream_fields=_fields("text"),
)

DEFAULT_API = "openai"
_BY_API = {
    "openai": _OPENAI,
    "azure-openai": _OPENAI,
    "azure-ai-foundry": _OPENAI,
    "openai-compatible": _OPENAI,
    "mistral": _OPENAI,
    "anthropic": _ANTHROPIC,
    "gemini": _GEMINI,
}


def text_paths(api: str | None) -> TextPaths:
    """The default paths of a client API (OpenAI's shape for an unknown one)."""
    return _BY_API.get(api or DEFAULT_API, _OPENAI)
