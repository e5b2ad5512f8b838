"""OpenAI Chat Completions client in front of a Gemini generateContent backend.

The model moves from the body to the path (`/v1beta/models/{model}:generateContent`, or
`:streamGenerateContent?alt=sse`); tool results are answered by function name, found from the
conversation's own tool calls; Gemini's whole function calls become one argument delta each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tollgate.providers import gemini_helper, openai_helper
from tollgate.providers.chat_translator import ChatTranslator
from tollgate.providers.conversation import ChatAnswer, ChatRequest, StreamWriter
from tollgate.providers.error_shapes import ERROR_SHAPERS
from tollgate.providers.translation import EventTranslator
from tollgate.types import JSONObject

__all__ = ["OpenAIGeminiTranslator"]


class OpenAIGeminiTranslator(ChatTranslator):
    """Parameters: `call_id` makes ids for Gemini's id-less function calls (tests pin it)."""

    client_path = "/chat/completions"
    client_shaper = ERROR_SHAPERS["openai"]

    def __init__(
        self, *, clock: Callable[[], float] = time.time, call_id: Callable[[], str] = gemini_helper.new_call_id
    ) -> None:
        super().__init__(clock=clock)
        self._call_id = call_id

    def parse_client(self, body: JSONObject) -> ChatRequest:
        return openai_helper.parse_request(body)

    def backend_request(self, req: ChatRequest, query: str) -> tuple[str, str, JSONObject]:
        path, up_query = gemini_helper.gemini_path(req.model, req.stream)
        return path, up_query, gemini_helper.render_request(req)

    def backend_answer(self, obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
        return gemini_helper.parse_answer(obj, fallback_model, self._call_id)

    def client_answer(self, answer: ChatAnswer, created: int) -> JSONObject:
        return openai_helper.render_answer(answer, created)

    def new_writer(self, req: ChatRequest, created: int) -> StreamWriter:
        return openai_helper.OpenAIStreamWriter(created, req.include_usage, req.model)

    def new_reader(self, writer: StreamWriter, req: ChatRequest) -> EventTranslator:
        return gemini_helper.GeminiStreamReader(writer, req.model, self._call_id)

    def backend_error_kind(self, obj: JSONObject) -> str | None:
        return gemini_helper.gemini_error_kind(obj)
