"""`response-cache`: answer repeated requests from a cache instead of the upstream (exact match, and
optionally semantic: a prompt similar enough to one already answered).

Phases: REQUEST_BODY (look up; a hit is a `Reply`, the upstream is never called), RESPONSE_HEADERS
(`x-tollgate-cache: hit|miss|bypass`), RESPONSE_CHUNK (a tap records a streamed miss on the side),
RESPONSE_COMPLETE (a whole miss, as the client gets it), COMPLETION (store a complete 200 answer).
Only 200 answers are cached, never an error or a cut stream. A stream is replayed as the stream the
client got, in one write; a stream and a whole answer are different keys. Stores: this process
(`memory`, LRU by entries and bytes) or Redis (`redis`, shared by every node); Redis errors fail
open (logged, counted as `unavailable`). See docs/policies.md, "Response cache".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tollgate.errors import GatewayError
from tollgate.gateway.exchange import ExchangeKey
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.base import BodyVerdict, ChunkTap, Reply
from tollgate.policies.cache.answer import CachedAnswer
from tollgate.policies.cache.embedder import Embedder
from tollgate.policies.cache.keys import (
    DEFAULT_IGNORED_FIELDS,
    DEFAULT_KEY_HEADERS,
    KeySpec,
    partition_key,
    prompt_text,
    request_key,
)
from tollgate.policies.cache.recorder import Recording
from tollgate.policies.cache.store import AnswerStore, CacheUnavailableError, MemoryAnswers, RedisAnswers
from tollgate.policies.cache.vectors import MemoryVectors, RedisVectors, VectorIndex
from tollgate.policies.env import BuildEnv
from tollgate.policies.params import Duration, PolicyParams
from tollgate.types import JSONObject
from tollgate.usage.record import TokenUsage, UsageResult

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "ResponseCache", "ResponseCacheParams", "SemanticParams", "build"]

NAME = "response-cache"
DESCRIPTION = "Answer repeated (or, with `semantic`, similar) requests from a cache, in memory or in Redis."

log = logging.getLogger("tollgate.policies")

HEADER = b"x-tollgate-cache"
#: What the response header says for each `Exchange.cache_result`.
_HEADER_VALUES = {
    "hit": b"hit",
    "semantic_hit": b"hit",
    "miss": b"miss",
    "unavailable": b"miss",
    "bypass": b"bypass",
}
_NO_CACHE = (b"no-cache", b"no-store")
#: Prompt characters embedded at most (the end of the conversation): embedding models take ~8k tokens.
MAX_EMBEDDED_CHARS = 16_000
_ZERO = TokenUsage(0, 0, 0)
_EVENT_STREAM = b"text/event-stream"
_JSON = b"application/json"


class SemanticParams(PolicyParams):
    provider: str = Field(
        min_length=1, max_length=63, description="The deployed provider whose embeddings endpoint embeds prompts."
    )
    model: str = Field(min_length=1, max_length=256, description="The embedding model (Azure: the deployment).")
    threshold: float = Field(
        default=0.95, ge=0.5, le=1.0, description="Cosine similarity at or above which a cached answer is used."
    )
    dimensions: int | None = Field(
        default=None, ge=1, le=8192, description="Ask for embeddings of this size (smaller is a cheaper lookup)."
    )
    max_entries: int = Field(
        default=256,
        ge=1,
        le=20_000,
        description="Prompts indexed at most (memory: in all; Redis: per partition); the oldest go first.",
    )
    timeout: float = Field(default=2.0, gt=0, le=30, description="Seconds the embedding call may take; then no lookup.")


class ResponseCacheParams(PolicyParams):
    ttl: Duration = Field(default=300, description="How long an answer is served: '5m', '1h', '1d' or seconds.")
    store: Literal["auto", "memory", "redis"] = Field(
        default="auto",
        description="memory (this node), redis (every node; needs TOLLGATE_REDIS_URL), auto: redis when configured.",
    )
    max_entries: int = Field(default=1000, ge=1, le=10_000_000, description="Answers kept at most (LRU).")
    max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, le=16 * 1024**3, description="Bytes kept at most in memory (LRU)."
    )
    max_entry_bytes: int = Field(
        default=1024 * 1024, ge=1, le=64 * 1024 * 1024, description="Larger answers are not cached."
    )
    per_key: bool = Field(default=False, description="Keep each API key's answers apart (else one cache per route).")
    endpoints: list[str] = Field(
        default_factory=lambda: ["chat", "messages", "generate_content", "embeddings"],
        min_length=1,
        description="Client API endpoints cached: chat, messages, generate_content, embeddings, responses.",
    )
    ignore_fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IGNORED_FIELDS),
        max_length=64,
        description="Top-level body fields left out of the key (they do not change the answer).",
    )
    key_headers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEY_HEADERS),
        max_length=32,
        description="Request headers whose values are part of the key (API versions, beta features).",
    )
    semantic: SemanticParams | None = Field(
        default=None, description="Also answer prompts similar to a cached one (embeddings, cosine similarity)."
    )


class ResponseCache(AttachedPolicy):
    """One per attachment; its store (and vector index) is shared by the requests of every route it is on."""

    name = NAME
    needs_request_body = True
    buffers_response = True
    reads_final_response = True

    def __init__(self, params: ResponseCacheParams, env: BuildEnv) -> None:
        super().__init__()
        self.params = params
        self.ttl = float(params.ttl)
        self._state: ExchangeKey[Recording] = ExchangeKey(env.owner)
        self._endpoints = frozenset(params.endpoints)
        self._ignored = frozenset(params.ignore_fields)
        headers = frozenset(h.strip().lower().encode("latin-1") for h in params.key_headers if h.strip())
        self._spec = KeySpec(self._ignored, params.per_key, headers)
        stores = _stores(params, env)
        self.store = stores.answers
        self.vectors = stores.vectors
        semantic = params.semantic
        self.embedder: Embedder | None = None
        self.threshold = 1.0
        if semantic is not None:
            self.embedder = Embedder(
                env.targets, semantic.provider, semantic.model, semantic.dimensions, semantic.timeout
            )
            self.threshold = semantic.threshold

    async def on_request_body(self, ex: Exchange) -> BodyVerdict:
        body = ex.body_obj
        if body is None or ex.method != "POST" or not self.applies(ex) or ex.endpoint not in self._endpoints:
            return None
        route = ex.route
        assert route is not None
        opt_out = _opt_out(ex)
        key = request_key(ex, body, self._spec)
        if opt_out is not None:
            ex.cache_result = "bypass"
            if opt_out == b"no-cache":  # HTTP's no-cache: do not answer from the cache, do keep the fresh answer
                ex.set(self._state, Recording(key, self.params.max_entry_bytes))
            return None
        try:
            answer = await self.store.get(key)
        except CacheUnavailableError:
            ex.cache_result = "unavailable"
            return None
        if answer is not None:
            return self._hit(ex, answer, "hit", None)
        ex.cache_result = "miss"
        recording = Recording(key, self.params.max_entry_bytes)
        if self.embedder is not None and self.vectors is not None:
            reply = await self._semantic(ex, body, recording)
            if reply is not None:
                return reply
        ex.set(self._state, recording)
        return None

    async def _semantic(self, ex: Exchange, body: JSONObject, recording: Recording) -> Reply | None:
        """Look for a similar prompt's answer; on a miss, keep the vector to index the fresh answer."""
        assert self.embedder is not None and self.vectors is not None
        text = prompt_text(body, self._ignored)[-MAX_EMBEDDED_CHARS:]  # the latest turns, within model limits
        if not text:
            return None
        vector = await self.embedder.embed(text)
        if vector is None:
            return None
        partition = partition_key(ex, body, self._spec)
        recording.partition, recording.vector = partition, vector
        try:
            found = await self.vectors.nearest(partition, vector)
            if found is None or found[1] < self.threshold:
                return None
            answer = await self.store.get(found[0])
        except CacheUnavailableError:
            ex.cache_result = "unavailable"
            return None
        if answer is None:
            return None
        return self._hit(ex, answer, "semantic_hit", found[1])

    def _hit(self, ex: Exchange, answer: CachedAnswer, result: str, similarity: float | None) -> Reply:
        ex.cache_result = result
        ex.saved_tokens = answer.saved_tokens
        ex.result = UsageResult(_ZERO, answer.response_model)
        headers = [(b"content-type", answer.content_type), (b"age", b"%d" % max(0, int(time.time() - answer.created)))]
        if similarity is not None:
            headers.append((b"x-tollgate-cache-similarity", b"%.4f" % similarity))
        return Reply(200, headers, answer.body, answer.is_stream)

    def on_response_headers(self, ex: Exchange) -> GatewayError | None:
        result = ex.cache_result
        if result is not None and ex.get(_HEADER_SENT) is None:
            ex.set(_HEADER_SENT, True)
            ex.response_headers.append((HEADER, _HEADER_VALUES[result]))
        return None

    def stream_tap(self, ex: Exchange) -> ChunkTap | None:
        recording = ex.get(self._state)
        return recording if recording is not None and ex.status == 200 else None

    def on_response_complete(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        recording = ex.get(self._state)
        if recording is not None and ex.status == 200:
            recording.whole(body)
        return body

    def on_completion(self, ex: Exchange) -> None:
        recording = ex.get(self._state)
        if recording is None or recording.body is None or ex.status != 200 or ex.error is not None:
            return
        result = ex.result
        usage = result.usage if result is not None else _ZERO
        answer = CachedAnswer(
            time.time(),
            ex.is_stream,
            _content_type(ex),
            result.response_model if result is not None else None,
            usage.prompt_tokens,
            usage.completion_tokens,
            recording.body,
        )
        self.spawn(self._keep(recording, answer))

    async def _keep(self, recording: Recording, answer: CachedAnswer) -> None:
        try:
            await self.store.put(recording.key, answer, self.ttl)
            if self.vectors is not None and recording.partition is not None and recording.vector is not None:
                await self.vectors.add(recording.partition, recording.key, recording.vector, self.ttl)
        except CacheUnavailableError:
            pass  # counted and logged by the store


@dataclass(frozen=True, slots=True)
class _Stores:
    """An attachment's answers and vectors, kept across snapshot compiles while its params stay the same."""

    params: ResponseCacheParams
    answers: AnswerStore
    vectors: VectorIndex | None


def _stores(params: ResponseCacheParams, env: BuildEnv) -> _Stores:
    """The stores of the attachment `env.owner`: the ones the previous snapshot built when the params
    are unchanged (a config change elsewhere, a new key, must not empty a memory cache), else new ones."""
    slot = f"{NAME}:{env.owner}"
    kept = env.kept.get(slot)
    if isinstance(kept, _Stores) and kept.params == params:
        return kept
    redis = env.redis if params.store != "memory" else None
    if params.store == "redis" and redis is None:
        log.warning("%s: response-cache store 'redis' without TOLLGATE_REDIS_URL: caching in memory", env.owner)
    answers: AnswerStore = (
        RedisAnswers(redis, env.owner, params.max_entries)
        if redis is not None
        else MemoryAnswers(params.max_entries, params.max_bytes)
    )
    vectors: VectorIndex | None = None
    if params.semantic is not None:
        size = params.semantic.max_entries
        vectors = RedisVectors(redis, size) if redis is not None else MemoryVectors(size)
    stores = env.kept[slot] = _Stores(params, answers, vectors)
    return stores


#: Set once the cache header is on the response (a route may carry two cache attachments).
_HEADER_SENT: ExchangeKey[bool] = ExchangeKey("response-cache-header")


def _opt_out(ex: Exchange) -> bytes | None:
    """`no-store` or `no-cache` when the client asked not to be answered from the cache (`x-tollgate-cache`
    or `Cache-Control`), else None. The gateway's own header is not forwarded upstream."""
    found: bytes | None = None
    own = False
    for name, value in ex.headers:
        if name == HEADER:
            own = True
            word = value.strip().lower()
            if word in _NO_CACHE:
                found = b"no-store" if word == b"no-store" else found or b"no-cache"
        elif name == b"cache-control":
            directives = {d.strip().split(b"=", 1)[0] for d in value.lower().split(b",")}
            if b"no-store" in directives:
                found = b"no-store"
            elif b"no-cache" in directives:
                found = found or b"no-cache"
    if own:
        ex.headers = [(n, v) for n, v in ex.headers if n != HEADER]
    return found


def _content_type(ex: Exchange) -> bytes:
    for name, value in ex.response_headers:
        if name == b"content-type":
            return value
    return _EVENT_STREAM if ex.is_stream else _JSON


def build(params: ResponseCacheParams, env: BuildEnv) -> ResponseCache:
    return ResponseCache(params, env)
