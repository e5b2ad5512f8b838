"""OpenAI Chat Completions client in front of an Anthropic Messages backend.

The OpenAI SDK and ChatOpenAI reach Claude: system messages become `system`, tool messages
`tool_result` blocks, images `image` blocks, `response_format: json_schema` becomes
`output_config.format`; streams turn Anthropic's block events into `chat.completion.chunk`s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tollgate.providers import anthropic_helper, openai_helper
from tollgate.providers.chat_translator import ChatTranslator
from tollgate.providers.conversation import ChatAnswer, ChatRequest, StreamWriter
from tollgate.providers.error_shapes import ERROR_SHAPERS
from tollgate.providers.translation import EventTranslator
from tollgate.types import JSONObject

__all__ = ["OpenAIAnthropicTranslator"]


class OpenAIAnthropicTranslator(ChatTranslator):
    """Parameters: `default_max_tokens` is sent when the client set no max tokens (Anthropic requires it)."""

    client_path = "/chat/completions"
    client_shaper = ERROR_SHAPERS["openai"]

    def __init__(
        self, *, default_max_tokens: int = anthropic_helper.DEFAULT_MAX_TOKENS, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.default_max_tokens = default_max_tokens

    def parse_client(self, body: JSONObject) -> ChatRequest:
        return openai_helper.parse_request(body)

    def backend_request(self, req: ChatRequest, query: str) -> tuple[str, str, JSONObject]:
        return "/v1/messages", "", anthropic_helper.render_request(req, self.default_max_tokens)

    def backend_answer(self, obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
        return anthropic_helper.parse_answer(obj, fallback_model)

    def client_answer(self, answer: ChatAnswer, created: int) -> JSONObject:
        return openai_helper.render_answer(answer, created)

    def new_writer(self, req: ChatRequest, created: int) -> StreamWriter:
        return openai_helper.OpenAIStreamWriter(created, req.include_usage, req.model)

    def new_reader(self, writer: StreamWriter, req: ChatRequest) -> EventTranslator:
        return anthropic_helper.AnthropicStreamReader(writer, req.model)

    def backend_error_kind(self, obj: JSONObject) -> str | None:
        return anthropic_helper.anthropic_error_kind(obj)
