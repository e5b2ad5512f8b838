"""The mock app: every vendor mock mounted under its prefix (/openai, /anthropic, /gemini, /mistral,
/azure, /foundry), each wrapped by a recorder, plus the control API under /_mock.

Control API (no credential, loopback use only): `GET|DELETE /_mock/requests` (`?vendor=` filters),
`GET|POST|DELETE /_mock/config`, `GET /_mock/health`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate.mock import anthropic, azure, gemini, mistral, openai
from tollgate.mock.anthropic import AnthropicMock
from tollgate.mock.azure import AzureMock
from tollgate.mock.foundry import FoundryMock
from tollgate.mock.gemini import GeminiMock
from tollgate.mock.mistral import MistralMock
from tollgate.mock.openai import OpenAIMock
from tollgate.mock.state import DEFAULT_MAX_RECORDED, PREFIXES, MockState
from tollgate.mock.wire import json_response
from tollgate.types import JSONObject

#: vendor -> (mock class, its error factory for unknown paths)
_MOCKS: dict[
    str,
    tuple[
        type[OpenAIMock | AnthropicMock | GeminiMock | MistralMock | AzureMock], Callable[[int, str | None], Response]
    ],
] = {
    "openai": (OpenAIMock, openai.error_response),
    "anthropic": (AnthropicMock, anthropic.error_response),
    "gemini": (GeminiMock, gemini.error_response),
    "mistral": (MistralMock, mistral.error_response),
    "azure": (AzureMock, azure.error_response),
    "foundry": (FoundryMock, azure.error_response),
}


class RecordingApp:
    """Records each HTTP request (method, path, query, headers, body) before the vendor app sees it.

    The body is read whole, recorded, then replayed to the inner app; later `receive` calls pass
    through, so disconnects still reach streaming responses.
    """

    def __init__(self, app: ASGIApp, vendor: str, state: MockState) -> None:
        self.app = app
        self.vendor = vendor
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        headers: JSONObject = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            previous = headers.get(name)
            headers[name] = f"{previous}, {value}" if isinstance(previous, str) else value
        query = scope.get("query_string", b"").decode("latin-1")
        self.state.record(self.vendor, scope["method"], scope["path"], query, headers, body)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _not_found(error: Callable[[int, str | None], Response]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await error(404, f"Mock route not found: {scope.get('method', '')} {scope.get('path', '')}")(
            scope, receive, send
        )

    return app


def _control_routes(state: MockState) -> list[BaseRoute]:
    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear_requests()
            return Response(status_code=204)
        return json_response(list(state.requests(request.query_params.get("vendor"))))

    async def config(request: Request) -> Response:
        if request.method == "DELETE":
            state.reset_config()
        elif request.method == "POST":
            try:
                settings = orjson.loads(await request.body() or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("the config must be a JSON object")
                state.configure(settings)
            except (ValueError, orjson.JSONDecodeError) as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response(state.config())

    async def health(request: Request) -> Response:
        return json_response({"status": "ok", "prefixes": dict(PREFIXES)})

    return [
        Route("/_mock/requests", requests, methods=["GET", "DELETE"]),
        Route("/_mock/config", config, methods=["GET", "POST", "DELETE"]),
        Route("/_mock/health", health, methods=["GET"]),
    ]


def create_app(
    keys: Mapping[str, str] | None = None,
    *,
    max_recorded: int = DEFAULT_MAX_RECORDED,
    deployments: Mapping[str, str] | None = None,
    state: MockState | None = None,
) -> Starlette:
    """Build the mock app. `keys` overrides the default credential per vendor; `deployments` maps
    Azure/Foundry deployment names to the model they report; or pass a ready `state`.

    The state is reachable as `app.state.mock`.
    """
    mock_state = state or MockState(keys, max_recorded=max_recorded, deployments=deployments)
    mounts: list[BaseRoute] = _control_routes(mock_state)
    for vendor, (mock_class, error) in _MOCKS.items():
        router = Router(mock_class(mock_state).routes(), default=_not_found(error))
        mounts.append(Mount(PREFIXES[vendor], app=RecordingApp(router, vendor, mock_state)))
    app = Starlette(routes=mounts)
    app.state.mock = mock_state
    return app
