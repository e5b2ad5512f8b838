"""Mock of Azure AI Foundry under /foundry: the model inference API `/models/chat/completions`
(model in the body) and `/models/embeddings`, `/models/info`, plus the Azure OpenAI deployment
paths. Same credential (`api-key`), `api-version` rule and content-filter fields as `azure.py`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tollgate.mock.azure import AzureMock, error_response
from tollgate.mock.wire import json_response

DEFAULT_MODEL = "gpt-4o"


class FoundryMock(AzureMock):
    """Azure AI Foundry: model inference routes on top of the Azure OpenAI deployment routes."""

    vendor = "foundry"
    label = "Azure AI Foundry"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/models/chat/completions", self.model_chat, methods=["POST"]),
            Route("/models/embeddings", self.model_embeddings, methods=["POST"]),
            Route("/models/info", self.info, methods=["GET"]),
            *super().routes(),
        ]

    async def model_chat(self, request: Request) -> Response:
        body = await self.body(request)
        if isinstance(body, Response):
            return body
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return error_response(
                400, "No model specified in request. Please provide a model name in the request body."
            )
        # The model-inference route reports usage on the last chunk of every stream, asked or not.
        return await self.chat(request, body, model, usage_on_finish=True)

    async def model_embeddings(self, request: Request) -> Response:
        body = await self.body(request)
        if isinstance(body, Response):
            return body
        model = body.get("model")
        return await self.embeddings(request, body, model if isinstance(model, str) and model else DEFAULT_MODEL)

    async def info(self, request: Request) -> Response:
        if (denied := self.denied(request)) is not None:
            return denied
        return json_response(
            {"model_name": DEFAULT_MODEL, "model_type": "chat-completion", "model_provider_name": "OpenAI"}
        )
