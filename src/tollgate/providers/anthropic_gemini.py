"""Anthropic Messages client in front of a Gemini generateContent backend.

The Anthropic SDK, ChatAnthropic and coding agents reach Gemini: `tool_result` blocks become
`functionResponse` parts (by function name), `top_k` maps to `topK`, and Gemini's whole function
calls stream as one `tool_use` block with one `input_json_delta`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tollgate.providers import anthropic_helper, gemini_helper
from tollgate.providers.chat_translator import ChatTranslator
from tollgate.providers.conversation import ChatAnswer, ChatRequest, StreamWriter
from tollgate.providers.error_shapes import ERROR_SHAPERS
from tollgate.providers.translation import EventTranslator
from tollgate.types import JSONObject

__all__ = ["AnthropicGeminiTranslator"]


def new_tool_use_id() -> str:
    return "toolu_" + gemini_helper.new_call_id()[5:]


class AnthropicGeminiTranslator(ChatTranslator):
    """Parameters: `call_id` makes ids for Gemini's id-less function calls (tests pin it)."""

    client_path = "/v1/messages"
    client_shaper = ERROR_SHAPERS["anthropic"]

    def __init__(self, *, clock: Callable[[], float] = time.time, call_id: Callable[[], str] = new_tool_use_id) -> None:
        super().__init__(clock=clock)
        self._call_id = call_id

    def parse_client(self, body: JSONObject) -> ChatRequest:
        return anthropic_helper.parse_request(body)

    def backend_request(self, req: ChatRequest, query: str) -> tuple[str, str, JSONObject]:
        path, up_query = gemini_helper.gemini_path(req.model, req.stream)
        return path, up_query, gemini_helper.render_request(req)

    def backend_answer(self, obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
        return gemini_helper.parse_answer(obj, fallback_model, self._call_id)

    def client_answer(self, answer: ChatAnswer, created: int) -> JSONObject:
        return anthropic_helper.render_answer(answer)

    def new_writer(self, req: ChatRequest, created: int) -> StreamWriter:
        return anthropic_helper.AnthropicStreamWriter(req.model)

    def new_reader(self, writer: StreamWriter, req: ChatRequest) -> EventTranslator:
        return gemini_helper.GeminiStreamReader(writer, req.model, self._call_id)

    def backend_error_kind(self, obj: JSONObject) -> str | None:
        return gemini_helper.gemini_error_kind(obj)
