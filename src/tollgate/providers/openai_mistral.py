"""OpenAI Chat Completions client in front of Mistral's native chat API.

Mistral speaks nearly OpenAI, but rejects fields it does not know, names the seed `random_seed`,
takes `max_tokens`, always reports stream usage (on the finish chunk), sends each tool call whole
and may answer `model_length`. The request is rebuilt from what translation carries (any other
field is a 400 naming it) and the answer normalised to OpenAI's shapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tollgate.providers import openai_helper
from tollgate.providers.chat_translator import ChatTranslator
from tollgate.providers.conversation import ChatAnswer, ChatRequest, StreamWriter
from tollgate.providers.error_shapes import ERROR_SHAPERS
from tollgate.providers.openai_helper import OpenAIDialect
from tollgate.providers.translation import EventTranslator
from tollgate.types import JSONObject

__all__ = ["OpenAIMistralTranslator"]


class OpenAIMistralTranslator(ChatTranslator):
    """OpenAI client → OpenAI-shaped backend of `dialect` (Mistral by default), through the neutral request."""

    client_path = "/chat/completions"
    client_shaper = ERROR_SHAPERS["openai"]

    def __init__(
        self, dialect: OpenAIDialect = openai_helper.MISTRAL, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.dialect = dialect

    def parse_client(self, body: JSONObject) -> ChatRequest:
        return openai_helper.parse_request(body)

    def backend_request(self, req: ChatRequest, query: str) -> tuple[str, str, JSONObject]:
        dialect = self.dialect
        return dialect.path_for(req.model), dialect.query, openai_helper.render_request(req, dialect)

    def backend_answer(self, obj: JSONObject, fallback_model: str | None) -> ChatAnswer:
        return openai_helper.parse_answer(obj, fallback_model)

    def client_answer(self, answer: ChatAnswer, created: int) -> JSONObject:
        return openai_helper.render_answer(answer, created)

    def new_writer(self, req: ChatRequest, created: int) -> StreamWriter:
        return openai_helper.OpenAIStreamWriter(created, req.include_usage, req.model)

    def new_reader(self, writer: StreamWriter, req: ChatRequest) -> EventTranslator:
        return openai_helper.OpenAIStreamReader(writer, req.model)
