"""The models list across vendors: the one non-chat endpoint a translated route maps.

An OpenAI or Anthropic client on a route whose backend is another vendor may list the models
(`GET /v1/models`, the SDKs' `models.list()`) or read one (`GET /v1/models/{id}`, `models.retrieve`).
Every vendor has that endpoint with the same facts under other names, so the gateway asks the
backend's own and answers in the client's shape. Azure backends are left out: a client names an
Azure *deployment* as its model, and Azure lists base models, not deployments; there (and for every
other endpoint) the route answers a 404 naming the endpoint (`pairs.py`).

Pure functions of bytes and JSON: no I/O, built on no request state but the model id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import orjson

from tollgate.errors import GatewayError
from tollgate.types import JSONObject, JSONValue

__all__ = ["MODELS_PATH", "ModelInfo", "backend_models_request", "lists_models", "translate_models"]

#: `/v1/models` and `/v1/models/{id}` below the route's context (both client APIs use these paths)
MODELS_PATH = re.compile(r"^/v1/models(?:/([^/]+))?/?$")
#: backend → (list path, query of a list call): one page as large as the vendor allows
_BACKEND_LIST: dict[str, tuple[str, str]] = {
    "openai": ("/v1/models", ""),
    "openai-compatible": ("/v1/models", ""),
    "mistral": ("/v1/models", ""),
    "anthropic": ("/v1/models", "limit=1000"),
    "gemini": ("/v1beta/models", "pageSize=1000"),
}
_OWNER = {"anthropic": "anthropic", "gemini": "google"}
_EPOCH = "1970-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model as every vendor describes it: id, a display name, creation time (unix s) and owner."""

    id: str
    display_name: str
    created: int | None
    owned_by: str


def lists_models(backend: str) -> bool:
    """Whether a models call can be translated to `backend`."""
    return backend in _BACKEND_LIST


def backend_models_request(backend: str, model_id: str | None) -> tuple[str, str]:
    """Path and query of the backend's list call, or of its one-model call when `model_id` is set."""
    path, query = _BACKEND_LIST[backend]
    if model_id is None:
        return path, query
    return f"{path}/{quote(model_id, safe='')}", ""


def _unix(value: JSONValue) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def _model(backend: str, obj: JSONValue) -> ModelInfo | None:
    if not isinstance(obj, dict):
        return None
    if backend == "gemini":
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            return None
        model_id = name.removeprefix("models/")
        shown = obj.get("displayName")
        return ModelInfo(model_id, shown if isinstance(shown, str) else model_id, None, "google")
    found = obj.get("id")
    if not isinstance(found, str) or not found:
        return None
    display = obj.get("display_name")
    owner = obj.get("owned_by")
    return ModelInfo(
        found,
        display if isinstance(display, str) else found,
        _unix(obj.get("created_at") if backend == "anthropic" else obj.get("created")),
        owner if isinstance(owner, str) else _OWNER.get(backend, backend),
    )


def _items(backend: str, obj: JSONObject) -> list[JSONValue]:
    items = obj.get("models" if backend == "gemini" else "data")
    return items if isinstance(items, list) else []


def _openai(model: ModelInfo) -> JSONObject:
    return {"id": model.id, "object": "model", "created": model.created or 0, "owned_by": model.owned_by}


def _anthropic(model: ModelInfo) -> JSONObject:
    created = datetime.fromtimestamp(model.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if model.created else _EPOCH
    return {"type": "model", "id": model.id, "display_name": model.display_name, "created_at": created}


def translate_models(client: str, backend: str, body: bytes, *, single: bool) -> bytes:
    """The backend's 2xx answer to a list (or one-model) call, in the client API's shape; a 502 when it
    is not a models answer."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        raise GatewayError("The backend answered the models call with a body that is not a JSON object.", status=502)
    render = _anthropic if client == "anthropic" else _openai
    if single:
        model = _model(backend, obj)
        if model is None:
            raise GatewayError("The backend answered the models call without a model id.", status=502)
        return orjson.dumps(render(model))
    models = [m for m in (_model(backend, item) for item in _items(backend, obj)) if m is not None]
    data: list[JSONValue] = [render(m) for m in models]
    if client == "anthropic":
        first, last = (models[0].id, models[-1].id) if models else (None, None)
        return orjson.dumps({"data": data, "has_more": False, "first_id": first, "last_id": last})
    return orjson.dumps({"object": "list", "data": data})
