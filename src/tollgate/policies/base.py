"""The phase interface every policy implements, and the compiled per-route chain the relay runs.

A policy is built once per snapshot (params validated and compiled before) and shared by every
request: immutable, no I/O on construction. It overrides only the hooks of the phases it acts in;
`PolicyChain.compile` keeps, per phase, the tuple of overridden hooks, so an empty phase costs one
empty loop and a route without policies costs nothing. Per-request state goes on the exchange under
the policy's own `ExchangeKey` (or, for stream phases, in the tap/filter object the policy returns).

Phases, in pipeline order (request phases run in chain order, response phases in reverse):

    REQUEST_HEADERS    after auth, before any body byte is read       on_request_headers(ex)
    REQUEST_BODY       body read (and parsed when any hook needs it)  on_request_body(ex)
    (routing)          choose a target among the route's              pick_target(ex, candidates)
    RESPONSE_HEADERS   upstream head received, nothing sent yet       on_response_headers(ex)
    RESPONSE_CHUNK     each stream chunk: taps read, filters rewrite  stream_tap(ex) / stream_filter(ex)
    RESPONSE_COMPLETE  a whole non-streamed body (opt-in buffering)   on_response_complete(ex, body)
                       (awaited instead, when `awaits_response`)      on_response_complete_async(ex, body)
    COMPLETION         the client has everything: settle, meter       on_completion(ex)

Ending the exchange: a request or response-head hook returns a `GatewayError` (or raises one); the
relay renders it in the client API's shape before the first byte. A REQUEST_BODY hook may instead
return a `Reply` (a cache hit): the relay sends it without calling any upstream, runs the
RESPONSE_HEADERS hooks and COMPLETION, and skips the later REQUEST_BODY hooks and the stream and
body phases (the reply is already what the client gets). Stream taps and filters raise
`GatewayError`; after the first byte it becomes the client API's in-stream error event. A
completion hook cannot end anything: the answer is already out.

Response hooks are synchronous unless a policy sets `awaits_response` (a check that needs I/O, such as
a network guardrail): only then does the chain await its whole-response hooks and the `aclose` of its
stream filters at the end of a stream. A chain without such a policy compiles exactly as before.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from tollgate.errors import GatewayError
from tollgate.types import HeaderList

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange
    from tollgate.gateway.targets import Target

__all__ = [
    "EMPTY_CHAIN",
    "AsyncChunkFilter",
    "BodyVerdict",
    "ChunkFilter",
    "ChunkTap",
    "Phase",
    "Policy",
    "PolicyChain",
    "Reply",
    "Verdict",
]

#: What a request or response-head hook returns: None to continue, a GatewayError to end the exchange.
Verdict = GatewayError | None


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer a REQUEST_BODY hook gives instead of the upstream's (a cache hit).

    `body` is exactly what the client gets (a stream is sent whole, as one body with its own content
    type); `headers` come before the gateway's `x-request-id`. The hook sets what metering needs on
    the exchange (`ex.result`, `ex.cache`) before returning it.
    """

    status: int
    headers: HeaderList
    body: bytes
    is_stream: bool


#: What a REQUEST_BODY hook returns: None to continue, a GatewayError to end, a Reply to answer.
BodyVerdict = GatewayError | Reply | None


class Phase(enum.Enum):
    """The named points of the pipeline where policies act (see the module docstring)."""

    REQUEST_HEADERS = "request_headers"
    REQUEST_BODY = "request_body"
    RESPONSE_HEADERS = "response_headers"
    RESPONSE_CHUNK = "response_chunk"
    RESPONSE_COMPLETE = "response_complete"
    COMPLETION = "completion"


class ChunkTap(Protocol):
    """Reads a response stream on the side; one per stream. Sees each chunk after it was queued to the
    client (as the client gets it), so it can never delay or change it. May raise `GatewayError`."""

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


class ChunkFilter(Protocol):
    """Rewrites a response stream; one per stream. `feed` returns the bytes to pass on now (b"" holds
    everything back; keep only what a rewrite needs and bound it), `close` what is left at the end.
    May raise `GatewayError`."""

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes: ...


@runtime_checkable
class AsyncChunkFilter(ChunkFilter, Protocol):
    """A stream filter whose end-of-stream verdict needs I/O: the relay awaits `aclose` instead of
    calling `close` (only on chains compiled with `awaits_stream_end`)."""

    async def aclose(self) -> bytes: ...


class Policy:
    """Base class of compiled policies: override the hooks you need, leave the rest.

    Class attributes declare what the policy does with bodies, so the route compiles only the work
    it needs: `needs_request_body` (parse the JSON request body before REQUEST_BODY hooks),
    `buffers_response` (hold a whole non-streamed response for RESPONSE_COMPLETE; costs memory,
    bounded by `max_buffered_response`), `reads_final_response` (its RESPONSE_COMPLETE hook runs after
    every other one, so it sees the body exactly as the client gets it), `retry_statuses` (upstream
    statuses on which the relay tries the next target, before the first byte).
    """

    #: the policy type, e.g. "rate-limit" (resource `type`); for logs and errors
    name: ClassVar[str] = "policy"
    needs_request_body: ClassVar[bool] = False
    buffers_response: ClassVar[bool] = False
    reads_final_response: ClassVar[bool] = False
    retry_statuses: frozenset[int] = frozenset()
    #: the whole-response hook and the stream filter's end need I/O: the chain awaits
    #: `on_response_complete_async` and the filter's `aclose` (set per instance, at build)
    awaits_response: bool = False
    #: hooks this instance's class overrides but its params make idle (a request-side guardrail has
    #: no response work): left out of the chain, so they cost nothing per request (set at build)
    unused_hooks: frozenset[str] = frozenset()

    async def on_request_headers(self, ex: Exchange) -> Verdict:
        """After auth, before the body is read: `ex.route`, `ex.key_id`, `ex.headers` are set."""
        return None

    async def on_request_body(self, ex: Exchange) -> BodyVerdict:
        """Body read: `ex.body`, `ex.facts` (and `ex.body_obj` when `needs_request_body`) are set.

        To change what goes upstream, set `ex.body` (bytes) and, if you changed the parsed object,
        `ex.body_obj` too; translators see the new values. Return a `Reply` to answer without an upstream.
        """
        return None

    def pick_target(self, ex: Exchange, candidates: tuple[Target, ...]) -> Target | None:
        """Routing: choose among `candidates` (the route's targets not yet tried for this request).

        Only one policy of a chain may override this (the first one wins). None means "no target":
        the exchange fails with the last upstream error, or 503.
        """
        raise NotImplementedError

    def on_response_headers(self, ex: Exchange) -> Verdict:
        """Upstream head received (`ex.status`, `ex.response_headers`), nothing sent to the client yet."""
        return None

    def stream_tap(self, ex: Exchange) -> ChunkTap | None:
        """A reader for this exchange's response stream, or None to skip it."""
        return None

    def stream_filter(self, ex: Exchange) -> ChunkFilter | None:
        """A rewriter for this exchange's response stream, or None to leave it alone."""
        return None

    def on_response_complete(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        """A whole non-streamed response body (only with `buffers_response`): return it, a replacement,
        or a GatewayError to answer that instead."""
        return body

    async def on_response_complete_async(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        """`on_response_complete` for chains that await (see `awaits_response`); by default the same."""
        return self.on_response_complete(ex, body)

    def on_completion(self, ex: Exchange) -> None:
        """The client has the whole answer (or the exchange failed): settle counters, emit metrics.

        Runs on the request path after the last byte, so it must not block; hand slow work off.
        """
        return None


def _overrides(policy: Policy, method: str) -> bool:
    """Whether `policy` acts in the phase of hook `method`: its class overrides it and this instance
    has not said, from its params, that it does not use it (`unused_hooks`)."""
    return getattr(type(policy), method) is not getattr(Policy, method) and method not in policy.unused_hooks


@dataclass(frozen=True, slots=True)
class PolicyChain:
    """A route's policies compiled into per-phase tuples of bound hooks, in the order they run."""

    policies: tuple[Policy, ...] = ()
    request_headers: tuple[Callable[[Exchange], Awaitable[Verdict]], ...] = ()
    request_body: tuple[Callable[[Exchange], Awaitable[BodyVerdict]], ...] = ()
    pick_target: Callable[[Exchange, tuple[Target, ...]], Target | None] | None = None
    response_headers: tuple[Callable[[Exchange], Verdict], ...] = ()
    stream_taps: tuple[Callable[[Exchange], ChunkTap | None], ...] = ()
    stream_filters: tuple[Callable[[Exchange], ChunkFilter | None], ...] = ()
    response_complete: tuple[Callable[[Exchange, bytes], bytes | GatewayError], ...] = ()
    #: instead of `response_complete` (then empty) when a buffering policy awaits: every hook, awaited
    response_complete_async: tuple[Callable[[Exchange, bytes], Awaitable[bytes | GatewayError]], ...] = ()
    completion: tuple[Callable[[Exchange], None], ...] = ()
    needs_request_body: bool = False
    retry_statuses: frozenset[int] = frozenset()
    #: some stream filter's end-of-stream verdict must be awaited (`AsyncChunkFilter.aclose`)
    awaits_stream_end: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.policies

    @classmethod
    def compile(cls, policies: tuple[Policy, ...]) -> PolicyChain:
        """The chain of `policies`, given in request order (provider baseline first, then the proxy's:
        the order is decided by the snapshot compiler, nowhere else)."""
        if not policies:
            return EMPTY_CHAIN
        reverse = tuple(reversed(policies))
        picker = next((p.pick_target for p in policies if _overrides(p, "pick_target")), None)
        retry: frozenset[int] = frozenset()
        for policy in policies:
            retry |= policy.retry_statuses
        buffering = [
            p
            for p in sorted(reverse, key=lambda p: p.reads_final_response)  # stable: readers of the final body last
            if p.buffers_response and _overrides(p, "on_response_complete")
        ]
        awaited = any(p.awaits_response for p in buffering)
        return cls(
            policies=policies,
            request_headers=tuple(p.on_request_headers for p in policies if _overrides(p, "on_request_headers")),
            request_body=tuple(p.on_request_body for p in policies if _overrides(p, "on_request_body")),
            pick_target=picker,
            response_headers=tuple(p.on_response_headers for p in reverse if _overrides(p, "on_response_headers")),
            stream_taps=tuple(p.stream_tap for p in reverse if _overrides(p, "stream_tap")),
            stream_filters=tuple(p.stream_filter for p in reverse if _overrides(p, "stream_filter")),
            response_complete=() if awaited else tuple(p.on_response_complete for p in buffering),
            response_complete_async=tuple(p.on_response_complete_async for p in buffering) if awaited else (),
            completion=tuple(p.on_completion for p in reverse if _overrides(p, "on_completion")),
            needs_request_body=any(p.needs_request_body for p in policies),
            retry_statuses=retry,
            awaits_stream_end=any(p.awaits_response and _overrides(p, "stream_filter") for p in policies),
        )


#: The chain of a route without policies: every phase empty.
EMPTY_CHAIN = PolicyChain()
