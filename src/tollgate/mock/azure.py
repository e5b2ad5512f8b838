"""Mock of Azure OpenAI under /azure: `/openai/deployments/{dep}/chat/completions|embeddings`.

Requires `api-version` and the `api-key` header; replies carry Azure's content-filter results, and a
stream opens with Azure's `choices: []` + `prompt_filter_results` chunk. `foundry.py` builds on this.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tollgate.mock.behaviour import begin
from tollgate.mock.openai import embeddings_body, model_object, serve_chat
from tollgate.mock.state import MockState
from tollgate.mock.text import collect_text
from tollgate.mock.wire import json_response, read_json_object, same_key
from tollgate.types import JSONObject, JSONValue

_SAFE: JSONValue = {"filtered": False, "severity": "safe"}
_NOT_DETECTED: JSONValue = {"filtered": False, "detected": False}
#: Per-text-chunk results of a stream.
STREAM_FILTERS: JSONObject = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
#: Per-choice results of a non-streamed completion.
COMPLETION_FILTERS: JSONObject = {
    **STREAM_FILTERS,
    "protected_material_code": _NOT_DETECTED,
    "protected_material_text": _NOT_DETECTED,
}
PROMPT_FILTERS: JSONValue = [
    {"prompt_index": 0, "content_filter_results": {**STREAM_FILTERS, "jailbreak": _NOT_DETECTED}}
]
_MESSAGES = {
    401: (
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
        "for an active subscription and use a correct regional API endpoint for your resource."
    ),
    404: "Resource not found",
    429: (
        "Requests to the ChatCompletions_Create Operation have exceeded the call rate limit. "
        "Please retry after 1 second."
    ),
    500: "The server had an error while processing your request.",
}


def error_response(status: int, message: str | None = None) -> Response:
    """Azure's `{"error": {"code": "<status>", "message"}}`, with `apim-request-id`; `retry-after` on 429."""
    headers = {"apim-request-id": secrets.token_hex(16), "x-request-id": secrets.token_hex(16)}
    if status == 429:
        headers["retry-after"] = "1"
        headers["retry-after-ms"] = "1000"
    body: JSONObject = {
        "error": {"code": str(status), "message": message or _MESSAGES.get(status, f"Mock error {status}.")}
    }
    return json_response(body, status, headers)


class AzureMock:
    """Azure OpenAI deployments (`api-key` header, `?api-version=` required) for one vendor prefix."""

    vendor = "azure"
    label = "Azure OpenAI"

    def __init__(self, state: MockState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/openai/deployments/{deployment}/chat/completions", self.deployment_chat, methods=["POST"]),
            Route("/openai/deployments/{deployment}/embeddings", self.deployment_embeddings, methods=["POST"]),
            Route("/openai/models", self.models, methods=["GET"]),
        ]

    def denied(self, request: Request) -> Response | None:
        """The key check, then the api-version check (without it Azure answers 404)."""
        if not same_key(request.headers.get("api-key"), self.state.keys[self.vendor]):
            return error_response(401)
        if not request.query_params.get("api-version"):
            return error_response(404)
        return None

    async def body(self, request: Request) -> JSONObject | Response:
        if (denied := self.denied(request)) is not None:
            return denied
        body = await read_json_object(request)
        return body if body is not None else error_response(400, "The request body is not valid JSON.")

    async def chat(self, request: Request, body: JSONObject, model: str, *, usage_on_finish: bool = False) -> Response:
        """`usage_on_finish`: report usage on the last stream chunk unasked (Foundry's model-inference route)."""
        return await serve_chat(
            request,
            body,
            state=self.state,
            vendor=self.vendor,
            label=self.label,
            model=model,
            error=error_response,
            filters=COMPLETION_FILTERS,
            stream_filters=STREAM_FILTERS,
            prompt_filters=PROMPT_FILTERS,
            usage_on_finish=usage_on_finish,
        )

    async def embeddings(self, request: Request, body: JSONObject, model: str) -> Response:
        prompt = " ".join(collect_text(body.get("input")))
        outcome = await begin(request, lambda: self.state.behaviour(self.vendor, prompt), error_response)
        if isinstance(outcome, Response):
            return outcome
        result = embeddings_body(body, model)
        return json_response(result) if result is not None else error_response(400, "'input' is a required property")

    async def deployment_chat(self, request: Request) -> Response:
        body = await self.body(request)
        if isinstance(body, Response):
            return body
        return await self.chat(request, body, self.state.deployment_model(request.path_params["deployment"]))

    async def deployment_embeddings(self, request: Request) -> Response:
        body = await self.body(request)
        if isinstance(body, Response):
            return body
        return await self.embeddings(request, body, self.state.deployment_model(request.path_params["deployment"]))

    async def models(self, request: Request) -> Response:
        if (denied := self.denied(request)) is not None:
            return denied
        models = sorted(set(self.state.deployments.values())) or ["gpt-4o", "gpt-4o-mini"]
        return json_response({"object": "list", "data": [model_object(m) for m in models]})
