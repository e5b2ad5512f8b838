"""`Exchange`: everything one request carries through the pipeline, and the usage record built from it.

One per request, created by the relay when the request head is complete and dropped once its usage
record is queued; not thread-safe, never shared between requests. Phases (policies, translators,
metering) read and write it instead of passing a dozen loose values around. It holds no secret:
the client's credential headers are stripped before `upstream` is built and the key is kept only
by id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, cast

from tollgate.providers.base import ClientAPI, RequestFacts, UpstreamRequest
from tollgate.types import HeaderList, JSONObject
from tollgate.usage.record import TokenUsage, UsageRecord, UsageResult

if TYPE_CHECKING:
    from tollgate.gateway.snapshot import Route
    from tollgate.gateway.targets import Target
    from tollgate.gateway.tracing import TraceContext

__all__ = ["NO_FACTS", "Exchange", "ExchangeKey", "attempt_record", "record"]

T = TypeVar("T")

#: facts of a request whose body was never read (refused before, or a path without facts)
NO_FACTS = RequestFacts(model=None, is_streaming=False)
_NO_USAGE = TokenUsage()


class ExchangeKey(Generic[T]):
    """A typed slot for one policy's per-request state: `ex.get(KEY)` is a `T | None`.

    Create one per policy (or per purpose) at import or compile time; two keys never collide, so
    policies cannot read or clobber each other's state by accident.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ExchangeKey({self.name!r})"


class Exchange:
    """One request through the gateway: route, key, request facts, body, target, timings, usage, outcome.

    Fields are filled in pipeline order; a phase may rely on those of earlier phases:
    - on arrival: `request_id`, `started` (unix time), `method`, `path`, `query`, `headers` (the
      client's, lower-case names), `client_ip` (after trusted proxy hops);
    - after routing and auth: `route`, `client_api`, `sub_path` (below the context), `key_id`;
    - after the body is read: `body` (bytes), `body_obj` (parsed JSON object, when something needed
      it), `facts` (model, streaming asked);
    - when traced (tracing on, request sampled): `trace`, right after routing;
    - per upstream attempt: `target`, `upstream` (the request as it will be sent), `attempts`,
      `upstream_started` (unix time it was sent);
    - with the response: `status`, `response_headers` (as the client gets them), `ttfb_ms`,
      `is_stream` (asked for a stream until the response says what it is), `result` (usage and response model);
    - at the end: `error` (a code when the exchange failed, also mid-stream);
    - on a route with a response cache: `cache_result` ("hit", "semantic_hit", "miss", "bypass",
      "unavailable") and, on a hit, `saved_tokens` (the tokens the cached answer was metered at).
    """

    __slots__ = (
        "_locals",
        "attempts",
        "body",
        "body_obj",
        "cache_result",
        "client_api",
        "client_ip",
        "error",
        "facts",
        "headers",
        "is_stream",
        "key_id",
        "method",
        "path",
        "query",
        "request_id",
        "response_headers",
        "result",
        "route",
        "saved_tokens",
        "started",
        "status",
        "sub_path",
        "target",
        "trace",
        "ttfb_ms",
        "upstream",
        "upstream_started",
    )

    def __init__(
        self, request_id: str, started: float, method: str, path: str, query: str, headers: HeaderList, client_ip: str
    ) -> None:
        self.request_id = request_id
        self.started = started
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.client_ip = client_ip
        self.route: Route | None = None
        self.client_api: ClientAPI | None = None
        self.sub_path = ""
        self.key_id: str | None = None
        self.body = b""
        self.body_obj: JSONObject | None = None
        self.facts = NO_FACTS
        self.target: Target | None = None
        self.upstream: UpstreamRequest | None = None
        self.upstream_started = 0.0
        self.trace: TraceContext | None = None
        self.attempts = 0
        self.status = 0
        self.response_headers: HeaderList = []
        self.ttfb_ms: float | None = None
        self.is_stream = False
        self.result: UsageResult | None = None
        self.error: str | None = None
        self.cache_result: str | None = None
        self.saved_tokens: int | None = None
        self._locals: dict[ExchangeKey[object], object] | None = None

    def __repr__(self) -> str:
        return f"Exchange({self.request_id} {self.method} {self.path!r} status={self.status})"

    @property
    def endpoint(self) -> str:
        """The client API endpoint addressed ("chat", "messages", ...; "other"); computed on demand."""
        return self.client_api.endpoint(self.sub_path) if self.client_api is not None else "other"

    def get(self, key: ExchangeKey[T]) -> T | None:
        """The value a phase stored under `key` for this request, or None."""
        if self._locals is None:
            return None
        return cast("T | None", self._locals.get(cast("ExchangeKey[object]", key)))

    def set(self, key: ExchangeKey[T], value: T) -> None:
        """Store per-request state under `key` (one dict per exchange, made on first use)."""
        if self._locals is None:
            self._locals = {}
        self._locals[cast("ExchangeKey[object]", key)] = value


def record(ex: Exchange, gateway: str, latency_ms: float, path_limit: int | None = None) -> UsageRecord:
    """The usage row of a finished exchange. `path_limit` truncates the path (refused requests)."""
    route = ex.route
    assert route is not None
    result = ex.result
    usage = result.usage if result is not None else _NO_USAGE
    if usage.total_tokens is None:
        usage = usage.finalized()
    path = ex.path if path_limit is None or len(ex.path) <= path_limit else ex.path[:path_limit]
    return UsageRecord(  # positional: a NamedTuple built from keywords costs three times as much
        ex.started,
        ex.request_id,
        gateway,
        ex.target.name if ex.target is not None else route.provider,  # the provider that served (failover)
        route.proxy,
        ex.key_id,
        ex.method,
        path,
        ex.facts.model,
        result.response_model if result is not None else None,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
        ex.status,
        latency_ms,
        ex.ttfb_ms,
        ex.is_stream,
        ex.error,
        ex.cache_result,
        ex.saved_tokens,
        usage.cached_tokens,
        ex.client_api.name if ex.client_api is not None else None,
        latency_ms - (ex.upstream_started - ex.started) * 1000.0 if ex.upstream_started else None,
        ex.trace.facts(ex, result) if ex.trace is not None else None,
    )


def attempt_record(ex: Exchange, gateway: str, latency_ms: float, status: int, error: str) -> UsageRecord:
    """The usage row of one failed upstream attempt that the exchange went on from (failover): the
    target tried (`ex.target`), what it answered or how it failed, no tokens. Shares the request id."""
    route = ex.route
    assert route is not None and ex.target is not None
    return UsageRecord(
        ex.started,
        ex.request_id,
        gateway,
        ex.target.name,
        route.proxy,
        ex.key_id,
        ex.method,
        ex.path,
        ex.facts.model,
        None,
        None,
        None,
        None,
        status,
        latency_ms,
        None,
        ex.facts.is_streaming,
        error,
        None,  # cache result
        None,  # saved tokens
        None,  # cached tokens
        ex.client_api.name if ex.client_api is not None else None,
        latency_ms,  # an attempt is all upstream time
    )
