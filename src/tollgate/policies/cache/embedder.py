"""Embeddings for the semantic cache, from a deployed provider the operator names, over HTTP through that
provider's own target (its pool, base URL and credential).

The request is shaped for the provider's backend: OpenAI-style `/v1/embeddings` (OpenAI, Mistral,
OpenAI-compatible and custom templates), Azure OpenAI's deployment path, Azure AI Foundry's
`/models/embeddings`, Gemini's `:embedContent`. Every failure (no such provider, a backend without
embeddings, a timeout, an error status, an odd body) is None plus a rate-limited log line: the
cache then fails open and the request goes upstream as if there were no semantic cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

import orjson

from tollgate.errors import UpstreamError
from tollgate.gateway.upstream import Timeout, UpstreamResponse
from tollgate.policies.cache.vectors import normalised
from tollgate.types import JSONObject, JSONValue

if TYPE_CHECKING:
    from tollgate.gateway.targets import Target

__all__ = ["Embedder"]

log = logging.getLogger("tollgate.policies")

#: Largest embeddings response read (a 3072-dimension vector as JSON is ~70 kB).
_MAX_RESPONSE = 4 * 1024 * 1024
_LOG_EVERY = 10.0
_AZURE_API_VERSION = "2024-10-21"
_FOUNDRY_API_VERSION = "2024-05-01-preview"
_JSON = [(b"content-type", b"application/json")]


class Embedder:
    """Turns prompt text into a unit vector with provider `provider`'s embeddings endpoint.

    `targets` is the snapshot's provider -> target map (complete once the snapshot is built, so it
    is read per call). `timeout` bounds the whole call, connection and body included.
    """

    def __init__(
        self, targets: Mapping[str, Target], provider: str, model: str, dimensions: int | None, timeout: float
    ) -> None:
        self._targets = targets
        self.provider = provider
        self.model = model
        self.dimensions = dimensions
        self.timeout = timeout
        self._upstream_timeout = Timeout(connect=timeout, first_byte=timeout, idle=timeout, pool=timeout)
        self.failures = 0
        self._unlogged = 0
        self._next_log = 0.0

    async def embed(self, text: str) -> array[float] | None:
        """The normalised embedding of `text`, or None (logged) when it cannot be had in time."""
        target = self._targets.get(self.provider)
        if target is None or target.pool is None or target.unavailable is not None:
            self._failed(f"provider {self.provider!r} is not deployed or not reachable")
            return None
        request = self._request(target.backend.name, text)
        if request is None:
            self._failed(f"provider {self.provider!r} ({target.backend.name}) has no embeddings endpoint")
            return None
        path, query, body = request
        url = target.target_url(path, query)
        headers = [*_JSON, *target.default_headers]
        try:
            async with asyncio.timeout(self.timeout):
                fixed = target.fixed_headers
                resp = await target.pool.request("POST", url, headers, fixed, body, self._upstream_timeout)
                try:
                    length = resp.content_length
                    if resp.status != 200 or (length is not None and length > _MAX_RESPONSE):
                        self._failed(f"embeddings answered {resp.status}")
                        return None
                    data = await resp.read() if length is not None else await _read_bounded(resp)
                finally:
                    resp.release()
        except TimeoutError:
            self._failed(f"embeddings took longer than {self.timeout} s")
            return None
        except UpstreamError as err:
            self._failed(err.message)
            return None
        vector = _vector(data)
        if vector is None:
            self._failed("embeddings response has no vector")
            return None
        return normalised(vector)

    def _request(self, backend: str, text: str) -> tuple[str, str, bytes] | None:
        body: JSONObject
        if backend == "anthropic":
            return None
        if backend == "gemini":
            body = {"content": {"parts": [{"text": text}]}}
            if self.dimensions:
                body["outputDimensionality"] = self.dimensions
            return f"/v1beta/models/{quote(self.model, safe='')}:embedContent", "", orjson.dumps(body)
        body = {"model": self.model, "input": text}
        if self.dimensions:
            body["dimensions"] = self.dimensions
        if backend == "azure-openai":
            path = f"/openai/deployments/{quote(self.model, safe='')}/embeddings"
            return path, f"api-version={_AZURE_API_VERSION}", orjson.dumps(body)
        if backend == "azure-ai-foundry":
            return "/models/embeddings", f"api-version={_FOUNDRY_API_VERSION}", orjson.dumps(body)
        return "/v1/embeddings", "", orjson.dumps(body)

    def _failed(self, why: str) -> None:
        self.failures += 1
        self._unlogged += 1
        now = time.monotonic()
        if now >= self._next_log:
            log.warning(
                "semantic cache: embedding failed (%s), %d time(s) since the last report; answering without it",
                why,
                self._unlogged,
            )
            self._unlogged = 0
            self._next_log = now + _LOG_EVERY
        return None


async def _read_bounded(resp: UpstreamResponse) -> bytes:
    parts: list[bytes] = []
    size = 0
    while (chunk := await resp.next_chunk()) is not None:
        size += len(chunk)
        if size > _MAX_RESPONSE:
            raise UpstreamError("embeddings response too large")
        parts.append(chunk)
    return b"".join(parts)


def _vector(data: bytes) -> list[float] | None:
    """The first vector of an OpenAI-style (`data[0].embedding`) or Gemini (`embedding.values`) body."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    values: JSONValue = None
    items = obj.get("data")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        values = items[0].get("embedding")
    elif isinstance(obj.get("embedding"), dict):
        values = obj["embedding"].get("values")
    if not isinstance(values, list) or not values or not all(isinstance(v, (int, float)) for v in values):
        return None
    return [float(v) for v in values]  # type: ignore[arg-type]
