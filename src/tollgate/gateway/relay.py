"""The hot path, top to bottom: match -> authenticate -> read request facts -> upstream call ->
relay the response (streams chunk by chunk) while the provider's tap meters it -> usage record.

A flat sequence of calls into the snapshot, the adapter and the upstream pool. It names no vendor
and no policy, queries no store and never logs a body, a key or a credential.
"""

from __future__ import annotations

import logging
import os
import time
from itertools import count
from typing import TYPE_CHECKING

import orjson

from tollgate.errors import (
    BadRequestError,
    GatewayError,
    ModelNotAllowedError,
    RouteNotFoundError,
    UpstreamError,
)
from tollgate.gateway.errors_fallback import adapter_for_path
from tollgate.gateway.server import Connection, Request
from tollgate.gateway.snapshot import Route
from tollgate.gateway.upstream import UpstreamResponse
from tollgate.providers.base import ProviderAdapter, RequestFacts
from tollgate.types import HeaderList, JSONObject
from tollgate.usage.record import TokenUsage, UsageRecord, UsageResult

if TYPE_CHECKING:
    from tollgate.gateway.app import GatewayState

log = logging.getLogger("tollgate.gateway")

#: Response headers the gateway sets itself (framing) or renames.
_RESPONSE_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
_PLAIN_CONNECTION = frozenset({b"keep-alive", b"close"})
_NO_USAGE = TokenUsage()
_NO_FACTS = RequestFacts(model=None, is_streaming=False)
_EVENT_STREAM = b"text/event-stream"


class RequestIds:
    """Cheap unique ids: a random per-process prefix and a counter (no uuid per request)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(6).hex()
        self._counter = count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):08x}"


class Relay:
    """The data-plane request handler; one per gateway process."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.ids = RequestIds()

    async def __call__(self, req: Request, conn: Connection) -> None:
        state = self.state
        state.inflight += 1
        try:
            await self._handle(req, conn)
        except Exception:  # a bug must cost one request a clean 500, never the connection or a leak
            log.exception("internal error while relaying %s %s", req.method, req.path)
            if not conn.response_started:
                self._fail(conn, adapter_for_path(req.path), GatewayError("Internal gateway error."), "internal")
            else:
                conn.abort()
        finally:
            state.inflight -= 1
            if state.draining:  # shutting down: answer what is in flight, keep no connection alive
                conn.close()

    async def _handle(self, req: Request, conn: Connection) -> None:
        state = self.state
        request_id = self.ids.next()
        started = time.time()
        route = state.snapshot.match(req.path)
        if route is None:
            self._fail(
                conn, adapter_for_path(req.path), RouteNotFoundError(f"No API is deployed at {req.path!r}."), request_id
            )
            return
        adapter = route.adapter
        key_id: str | None = None
        facts = _NO_FACTS
        try:
            key_id = route.auth.authenticate(req.headers, req.query)
            sub_path = req.path[len(route.context) :] or "/"
            if "/." in sub_path or "%2" in sub_path:  # cheap screen; the exact check decodes
                _check_dot_segments(sub_path)
            # Only now, authenticated and checked, is the body read (413 over the route's limit).
            body = await req.read_body(route.max_body)
            body_obj = _parse_body(body) if adapter.reads_body(req.method, sub_path) else None
            facts = adapter.request_facts(sub_path, req.query, body_obj)
            if route.models is not None and facts.model is not None and facts.model not in route.models:
                raise ModelNotAllowedError(f"Model {facts.model!r} is not allowed on this API.")
            if route.unavailable is not None or route.pool is None:
                raise UpstreamError(f"Upstream unavailable: {route.unavailable}.", status=503)
            rewrite = adapter.rewrite_request(sub_path, req.query, body_obj, facts)
            query = req.query
            drop_usage = False
            if rewrite is not None:
                sub_path = rewrite.path if rewrite.path is not None else sub_path
                query = rewrite.query if rewrite.query is not None else query
                body = rewrite.body if rewrite.body is not None else body
                drop_usage = rewrite.drop_usage_chunk
            target = _target(route, sub_path, query)
            headers = _upstream_headers(route, req.headers)
            resp = await route.pool.request(req.method, target, headers, route.upstream_headers, body, route.timeout)
        except GatewayError as err:
            status = self._fail(conn, adapter, err, request_id)
            self._record(route, req, request_id, key_id, facts, None, status, started, None, err.code)
            return
        if key_id is not None:
            state.key_last_used[key_id] = started
        ttfb = (time.time() - started) * 1000.0
        resp_headers = _response_headers(resp.headers, request_id)
        content_type = resp.header(b"content-type") or b""
        result: UsageResult | None = None
        error_code: str | None = None
        try:
            is_sse = content_type.startswith(_EVENT_STREAM)
            if is_sse or (facts.is_streaming and resp.header(b"content-length") is None):
                result, error_code = await self._stream(conn, resp, resp_headers, adapter, facts, drop_usage, is_sse)
            else:
                data = await resp.read()
                if 200 <= resp.status < 300:
                    result = adapter.usage_from_json(data, facts)
                conn.send_response(resp.status, resp_headers, data)
        except UpstreamError as err:  # failed before anything was sent to the client
            resp.release()
            status = self._fail(conn, adapter, err, request_id)
            self._record(route, req, request_id, key_id, facts, None, status, started, ttfb, err.code)
            return
        except BaseException:
            resp.release()
            self._record(route, req, request_id, key_id, facts, result, 499, started, ttfb, "client_disconnected")
            raise
        resp.release()
        self._record(route, req, request_id, key_id, facts, result, resp.status, started, ttfb, error_code)

    async def _stream(
        self,
        conn: Connection,
        resp: UpstreamResponse,
        headers: HeaderList,
        adapter: ProviderAdapter,
        facts: RequestFacts,
        drop_usage: bool,
        is_sse: bool,
    ) -> tuple[UsageResult, str | None]:
        """Relay a stream chunk by chunk; the tap reads (or filters) each chunk as it passes.

        An upstream failure mid-stream ends the stream with the vendor's in-stream error event where
        it has one (SSE only), otherwise by breaking the connection, so the client never mistakes a
        cut stream for a complete answer."""
        tap = adapter.new_stream_tap(facts, drop_usage)
        first = await resp.next_chunk()  # surface a failure before the head goes out, as a clean error
        conn.start_stream(resp.status, headers)
        chunk = first
        try:
            while chunk is not None:
                out = tap.feed(chunk)
                if resp.is_drained:  # the whole rest is here: head, data and end leave in one write
                    conn.end_stream(out + tap.close())
                    return tap.result(), None
                await conn.write_chunk(out)
                chunk = await resp.next_chunk()
            conn.end_stream(tap.close())
            return tap.result(), None
        except UpstreamError as err:
            frame = adapter.stream_error_frame(err) if is_sse else None
            if frame is not None and not conn.closed:
                await conn.write_chunk(frame)
                conn.end_stream()
            else:
                conn.abort()
            log.warning("upstream stream failed: %s", err.message)
            return tap.result(), err.code

    def _fail(self, conn: Connection, adapter: ProviderAdapter, err: GatewayError, request_id: str) -> int:
        status, headers, body = adapter.error_response(err, request_id)
        headers = [*headers, (b"x-request-id", request_id.encode())]
        conn.send_response(status, headers, body)
        if status >= 500:
            log.warning("request %s failed: %s %s", request_id, status, err.message)
        return status

    def _record(
        self,
        route: Route | None,
        req: Request,
        request_id: str,
        key_id: str | None,
        facts: RequestFacts,
        result: UsageResult | None,
        status: int,
        started: float,
        ttfb: float | None,
        error_code: str | None,
    ) -> None:
        if route is None:
            return
        usage = result.usage if result is not None else _NO_USAGE
        if usage.total_tokens is None:
            usage = usage.finalized()
        self.state.usage.submit(
            UsageRecord(  # positional: a NamedTuple built from keywords costs three times as much
                started,
                request_id,
                self.state.name,
                route.provider,
                route.proxy,
                key_id,
                req.method,
                req.path,
                facts.model,
                result.response_model if result is not None else None,
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens,
                status,
                (time.time() - started) * 1000.0,
                ttfb,
                facts.is_streaming,
                error_code,
            )
        )


def _parse_body(body: bytes) -> JSONObject | None:
    if not body:
        return None
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"Request body is not valid JSON: {exc.msg} at position {exc.pos}.") from None
    if not isinstance(obj, dict):
        raise BadRequestError("Request body must be a JSON object.")
    return obj


def _check_dot_segments(path: str) -> None:
    from urllib.parse import unquote

    for segment in unquote(path).split("/"):
        if segment in (".", ".."):
            raise BadRequestError("Path must not contain '.' or '..' segments.")


def _target(route: Route, sub_path: str, query: str) -> str:
    if query and route.strip_query:
        query = "&".join(p for p in query.split("&") if p.split("=", 1)[0] not in route.strip_query)
    if route.credential_query:
        query = f"{query}&{route.credential_query}" if query else route.credential_query
    path = route.base_path + sub_path
    return f"{path}?{query}" if query else path


def _upstream_headers(route: Route, client_headers: HeaderList) -> HeaderList:
    strip = route.strip_headers
    headers: HeaderList = []
    connection: bytes | None = None
    for item in client_headers:
        if item[0] in strip:
            if item[0] == b"connection":
                connection = item[1]
            continue
        headers.append(item)
    if connection is not None and connection.lower() not in _PLAIN_CONNECTION:
        # Headers the client named in Connection are hop-by-hop too (RFC 9110 7.6.1).
        named = {token.strip().lower() for token in connection.split(b",")}
        headers = [(n, v) for n, v in headers if n not in named]
    for name, value in route.default_headers:
        if not any(n == name for n, _ in client_headers):
            headers.append((name, value))
    return headers


def _response_headers(upstream: HeaderList, request_id: str) -> HeaderList:
    headers: HeaderList = []
    for name, value in upstream:
        if name in _RESPONSE_DROP:
            continue
        if name == b"x-request-id":
            headers.append((b"x-upstream-request-id", value))
            continue
        headers.append((name, value))
    headers.append((b"x-request-id", request_id.encode()))
    return headers
