"""Model mapping: a provider renames requested models before they reach its backend.

`spec.modelMap: {claude-sonnet-4-5: claude-sonnet-4-6}` keeps clients that still ask for a retired
model working without a code change. The mapping wraps the target's translator (pass-through or
cross-vendor) at snapshot compile, so a request whose model is not mapped costs one dict lookup
and its bytes go through untouched; a mapped one has its body `model` (and, for Gemini and Azure,
the model or deployment in the path) rewritten before the translator sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from urllib.parse import quote

import orjson

from tollgate.providers.base import IdentityTranslation, RequestFacts, Translation, Translator, UpstreamRequest
from tollgate.types import HeaderList, JSONObject

__all__ = ["MappedTranslation", "ModelMapTranslator", "RoutedModelTranslator"]


class MappedTranslation:
    """One request with a mapped model: rewrites it, then hands over to the inner translation."""

    __slots__ = ("_inner", "_source", "_target")

    def __init__(self, inner: Translation, source: str, target: str) -> None:
        self._inner = inner
        self._source = source
        self._target = target

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None:
        source, target = self._source, self._target
        if body is not None and body.get("model") == source:
            body = {**body, "model": target}
            req.body = orjson.dumps(body)
        for old, new in (
            (f"/models/{source}:", f"/models/{target}:"),
            (f"/deployments/{source}/", f"/deployments/{target}/"),
        ):
            quoted = old.replace(source, quote(source, safe=""))
            for pattern in (old, quoted):
                if pattern in req.path:
                    req.path = req.path.replace(pattern, new.replace(target, quote(target, safe="")), 1)
        self._inner.request(req, body)

    def response_headers(self, status: int, headers: HeaderList) -> HeaderList:
        return self._inner.response_headers(status, headers)

    def response_body(self, body: bytes) -> bytes:
        return self._inner.response_body(body)

    def error(self, status: int, headers: HeaderList, body: bytes) -> tuple[int, HeaderList, bytes]:
        return self._inner.error(status, headers, body)

    def stream_chunk(self, chunk: bytes) -> bytes:
        return self._inner.stream_chunk(chunk)

    def stream_end(self) -> bytes:
        return self._inner.stream_end()


class ModelMapTranslator:
    """Wraps a target's translator with a provider's model mapping; immutable and shared."""

    __slots__ = ("_inner", "_map", "name")

    def __init__(self, inner: Translator, mapping: Mapping[str, str]) -> None:
        self._inner = inner
        self._map = MappingProxyType(dict(mapping))
        self.name = inner.name

    @property
    def inner(self) -> Translator:
        return self._inner

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None:
        target = self._map.get(facts.model) if facts.model is not None else None
        translation = self._inner.start(facts, req, body)
        if target is None or facts.model is None:
            return translation
        return MappedTranslation(translation if translation is not None else IdentityTranslation(), facts.model, target)


class RoutedModelTranslator:
    """Wraps a target's translator for model-name routing: `rewrite` turns the model a client asked for
    (an alias such as `fast`, or `provider/model`) into the model this target gets, or None to leave
    it. The inner translator (the provider's own mapping, the vendor pair) sees the rewritten model,
    as if the client had asked for it. Immutable and shared; built at snapshot compile."""

    __slots__ = ("_inner", "_rewrite", "name")

    def __init__(self, inner: Translator, rewrite: Callable[[str], str | None]) -> None:
        self._inner = inner
        self._rewrite = rewrite
        self.name = inner.name

    @property
    def inner(self) -> Translator:
        return self._inner

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None:
        model = facts.model
        target = self._rewrite(model) if model is not None else None
        if target is None or model is None:
            return self._inner.start(facts, req, body)
        translation = self._inner.start(RequestFacts(target, facts.is_streaming), req, body)
        return MappedTranslation(translation if translation is not None else IdentityTranslation(), model, target)
