"""W3C trace context on the data plane: continue the client's `traceparent`, pass ours upstream.

Only ids are made here, on the event loop (a few string operations per traced request); the span
itself is built and exported by the usage writer child from the usage record (`usage/traces.py`),
so the gateway does no OpenTelemetry work. Off unless the node enables tracing (`TOLLGATE_TRACES`):
then `GatewayState.tracing` is None and the relay skips all of this with one test.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

from tollgate.usage.record import SpanFacts

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange
    from tollgate.usage.record import UsageResult

__all__ = ["TRACEPARENT", "TraceContext", "Tracing", "parse_traceparent"]

TRACEPARENT = b"traceparent"
_HEX = frozenset(b"0123456789abcdef")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def parse_traceparent(value: bytes) -> tuple[str, str, bool] | None:
    """(trace id, parent span id, sampled) of a valid W3C `traceparent`, else None.

    Version 00 must be exactly 55 characters; a later version may carry more after the flags
    (W3C Trace Context, "versioning of traceparent"). Version ff, upper-case hex and all-zero ids
    are invalid: the gateway then starts a trace of its own, as the recommendation says.
    """
    if len(value) < 55 or value[2:3] != b"-" or value[35:36] != b"-" or value[52:53] != b"-":
        return None
    version = value[:2]
    if version == b"ff" or (version == b"00" and len(value) != 55) or (len(value) > 55 and value[55:56] != b"-"):
        return None
    head = value[:55]
    if not _HEX.issuperset(head[:2] + head[3:35] + head[36:52] + head[53:55]):
        return None
    text = head.decode("ascii")
    trace_id, span_id = text[3:35], text[36:52]
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, bool(int(text[53:55], 16) & 1)


class TraceContext:
    """One traced request: its trace id, the gateway's span id and the client's span id (if any)."""

    __slots__ = ("parent_span_id", "span_id", "trace_id")

    def __init__(self, trace_id: str, span_id: str, parent_span_id: str | None) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id

    def facts(self, ex: Exchange, result: UsageResult | None) -> SpanFacts:
        """What the writer child needs to export this request's span (at completion)."""
        route = ex.route
        return SpanFacts(
            self.trace_id,
            self.span_id,
            self.parent_span_id,
            ex.target.backend.name if ex.target is not None else None,
            ex.endpoint,
            route.context if route is not None else "",
            result.finish_reasons if result is not None else (),
        )


class Tracing:
    """Starts the trace context of each request; one per gateway process, shared, event loop only.

    Sampling is parent-based: a request whose `traceparent` says "sampled" is traced, one that says
    "not sampled" is not (its header passes upstream untouched); a request without a valid one
    starts a trace, kept with probability `ratio` (`OTEL_TRACES_SAMPLER_ARG`).
    """

    __slots__ = ("_random", "ratio")

    def __init__(self, ratio: float = 1.0) -> None:
        self.ratio = ratio
        self._random = random.Random(os.urandom(16))  # ids need uniqueness, not secrecy

    def start(self, ex: Exchange) -> None:
        """Set `ex.trace` for a sampled request and put the gateway's span in its upstream `traceparent`.

        The client's header list is changed in place (replacing its `traceparent`), so the upstream
        request built from it later carries the gateway's span as the parent.
        """
        headers = ex.headers
        index = -1
        parent: tuple[str, str, bool] | None = None
        for i, (name, value) in enumerate(headers):
            if name == TRACEPARENT:
                index = i
                parent = parse_traceparent(value)
                break
        rand = self._random
        if parent is not None:
            trace_id, parent_span_id, sampled = parent
            if not sampled:
                return
        else:
            if self.ratio < 1.0 and rand.random() >= self.ratio:
                return
            trace_id, parent_span_id = f"{rand.getrandbits(128) or 1:032x}", None
        span_id = f"{rand.getrandbits(64) or 1:016x}"
        ex.trace = TraceContext(trace_id, span_id, parent_span_id)
        header = (TRACEPARENT, f"00-{trace_id}-{span_id}-01".encode("ascii"))
        if index >= 0:
            headers[index] = header
        else:
            headers.append(header)
