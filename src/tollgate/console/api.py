"""`ConsoleApi`: the console's only way to the store: the management API itself, called in-process over ASGI.

Why over ASGI and not the store: every screen then goes through exactly what the CLI goes through
(the token guard, the role's permission, validation, the audit log), so the console can neither see
nor change anything the API would refuse. The caller's address is passed on, so failed logins back
off per browser client, not for the whole console.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

from tollgate.control.permissions import API_PREFIX


class ApiError(Exception):
    """The API refused a call: its status, message and (field, reason) entries."""

    def __init__(self, status: int, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def field_errors(self) -> dict[str, str]:
        """Reason per dotted field path (`spec.context`), for showing beside the form field."""
        out: dict[str, str] = {}
        for detail in self.details:
            field = detail.get("field", "")
            if field and field not in out:
                out[field] = detail.get("reason", "")
        return out


class ConsoleApi:
    """One per console request: the management API at `app`, as the holder of `token` (None: no token)."""

    def __init__(self, app: ASGIApp, token: str | None, client_host: str) -> None:
        self._app = app
        self._token = token
        self._client = (client_host, 0)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for 204); raises `ApiError` for any refusal."""
        response = await self.send(method, path, json=json, params=params)
        return None if response.status_code == 204 else response.json()

    async def send(
        self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        transport = httpx.ASGITransport(app=self._app, client=self._client)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.internal") as client:
            response = await client.request(
                method, API_PREFIX + path, json=json, params=params, headers=headers, timeout=60.0
            )
        if response.is_success:
            return response
        raise _error_of(response)

    async def get(self, path: str, **params: str | None) -> Any:
        return await self.call("GET", path, params={k: v for k, v in params.items() if v is not None})


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ApiError(response.status_code, f"HTTP {response.status_code}", [])
    details = error.get("errors")
    entries = [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
    return ApiError(response.status_code, str(error.get("message", "")), entries)
