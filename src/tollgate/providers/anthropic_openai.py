"""Anthropic Messages client in front of an OpenAI-shaped chat completions backend: OpenAI,
OpenAI-compatible servers, Mistral, Azure OpenAI and Azure AI Foundry, one class with a dialect.

`tool_result` blocks become `tool` messages placed right after the assistant turn, `tool_use`
blocks `tool_calls`, and OpenAI's chunks (split argument deltas, or Mistral's whole calls) become
Anthropic's block events, with the full usage on `message_delta`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from tollgate.providers import anthropic_helper, openai_helper
from tollgate.providers.chat_translator import ChatTranslator
from tollgate.providers.conversation import ChatAnswer, ChatRequest, StreamWriter
from tollgate.providers.error_shapes import ERROR_SHAPERS
from tollgate.providers.openai_helper import OpenAIDialect
from tollgate.providers.translation import EventTranslator
from tollgate.types import JSONObject

__all__ = ["AnthropicOpenAITranslator"]


class AnthropicOpenAITranslator(ChatTranslator):
    """Parameters: `dialect` names the OpenAI-shaped backend (`openai_helper.OPENAI`, `MISTRAL`,
    `AZURE_OPENAI`, ...); `api_version` overrides the Azure `api-version` query."""

    client_path = "/v1/messages"
    client_shaper = ERROR_SHAPERS["anthropic"]

    def __init__(
        self,
        dialect: OpenAIDialect = openai_helper.OPENAI,
        *,
        api_version: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        if api_version is not None:
            dialect = dataclasses.replace(dialect, query=f"api-version={api_version}")
        self.dialect = dialect

    def parse_client(self, body: JSONObject) -> ChatRequest:
        return anthropic_helper.parse_request(body)

    def backend_request(self, req: ChatRequest, query: str) -> tuple[str, str, JSONObject]:
        dialect = self.dialect
        return dialect.path_for(req.model), dialect.query, openai_helper.render_request(req, dialect)

    def backend_answer(self, obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
        return openai_helper.parse_answer(obj, fallback_model)

    def client_answer(self, answer: ChatAnswer, created: int) -> JSONObject:
        return anthropic_helper.render_answer(answer)

    def new_writer(self, req: ChatRequest, created: int) -> StreamWriter:
        return anthropic_helper.AnthropicStreamWriter(req.model)

    def new_reader(self, writer: StreamWriter, req: ChatRequest) -> EventTranslator:
        return openai_helper.OpenAIStreamReader(writer, req.model)
