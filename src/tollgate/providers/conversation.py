"""The neutral chat values translation passes through: one request, one answer, one stream protocol.

A pair translator parses the client's request into a `ChatRequest`, renders it for the backend,
and turns the backend's answer into a `ChatAnswer` (or stream events) that the client side renders.
So each vendor is written once as a reader and once as a writer, and pairs compose them; only
what every pair can carry lives here, anything else is refused by the parser with a 400.
Finish reasons use OpenAI's vocabulary (`stop`, `length`, `tool_calls`, `content_filter`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tollgate.errors import GatewayError
from tollgate.providers.translation import ImageRef, ToolChoice, ToolSpec
from tollgate.types import JSONObject

__all__ = [
    "ChatAnswer",
    "ChatMessage",
    "ChatRequest",
    "ChatUsage",
    "ImagePart",
    "StreamWriter",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
]


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    image: ImageRef
    #: the client field it came from, named in a 400 when the backend cannot take it
    field: str


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: JSONObject


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    call_id: str
    content: str
    is_error: bool = False


Part = TextPart | ImagePart | ToolCallPart | ToolResultPart


@dataclass(slots=True)
class ChatMessage:
    """`role` is `user` (also carrying tool results) or `assistant` (text and tool calls)."""

    role: str
    parts: list[Part]


@dataclass(slots=True)
class ChatRequest:
    """Everything a client asked for that translation carries; None = not asked."""

    model: str | None
    messages: list[ChatMessage]
    system: str | None = None
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    #: "json_object", or "json_schema" with `json_schema` set
    response_format: str | None = None
    json_schema: JSONObject | None = None
    json_schema_name: str | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None

    def tool_names(self) -> dict[str, str]:
        """Tool call id → function name, from the assistant turns (Gemini answers by name, not id)."""
        names: dict[str, str] = {}
        for message in self.messages:
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    names[part.id] = part.name
        return names


@dataclass(slots=True)
class ChatUsage:
    """Prompt tokens include cached ones (`cached`); completion tokens include reasoning ones."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0


@dataclass(slots=True)
class ChatAnswer:
    """A whole (non-streamed) answer: first choice only."""

    id: str
    model: str
    text: str | None
    tool_calls: list[ToolCallPart]
    finish: str
    usage: ChatUsage


class StreamWriter(Protocol):
    """The client side of a translated stream: each call returns the client frames it produces.

    Readers call `start` once before anything else (they call it on the first backend event, so
    the first frame is never lost), tool calls are numbered 0, 1, … in order of appearance.
    """

    def start(self, message_id: str, model: str) -> list[bytes]: ...

    def text(self, text: str) -> list[bytes]: ...

    def tool_start(self, index: int, call_id: str, name: str) -> list[bytes]: ...

    def tool_arguments(self, index: int, partial_json: str) -> list[bytes]: ...

    def finish(self, reason: str) -> list[bytes]: ...

    def usage(self, usage: ChatUsage) -> list[bytes]: ...

    def end(self) -> list[bytes]: ...

    def error(self, err: GatewayError) -> list[bytes]: ...
