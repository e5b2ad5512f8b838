"""The hot path, top to bottom: match -> authenticate -> request-header hooks -> read body -> request
facts, allow-list, request-body hooks -> pick a target, translate, upstream call (next target on
failure, before the first byte) -> response-header hooks -> relay the response (streams chunk by
chunk, taps reading and filters rewriting) -> completion hooks and the usage record.

A flat sequence of calls into the snapshot, the exchange, the client API, the target's backend and
translator, the policy chain and the upstream pool. It names no vendor and no policy, queries no
store and never logs a body, a key or a credential.
"""

from __future__ import annotations

import logging
import os
import time
from functools import partial
from itertools import count
from typing import TYPE_CHECKING

import orjson

from tollgate.errors import (
    AuthenticationError,
    BadRequestError,
    GatewayError,
    ModelNotAllowedError,
    RateLimitedError,
    RouteNotFoundError,
    UpstreamError,
)
from tollgate.gateway.exchange import Exchange, record
from tollgate.gateway.forwarding import client_address
from tollgate.gateway.probes import PROBE_PREFIX, probe_response
from tollgate.gateway.server import Connection, Request
from tollgate.gateway.snapshot import Route
from tollgate.gateway.targets import Target, first_available
from tollgate.gateway.upstream import BUFFER_LIMIT, UpstreamResponse
from tollgate.policies.base import AsyncChunkFilter, ChunkFilter, ChunkTap, Reply
from tollgate.providers.base import ClientAPI, IdentityTranslation, Translation, UpstreamRequest
from tollgate.providers.unmatched import client_api_for_unmatched
from tollgate.resources.keys import split_key
from tollgate.security.fingerprint import fingerprint
from tollgate.types import HeaderList, JSONObject

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
_EVENT_STREAM = b"text/event-stream"
#: Methods that invoke no model: allowed on an allow-listed route without a model (listing, retrieval).
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: `error_code` column width: a vendor's in-stream error type is cut to it.
_ERROR_CODE_MAX = 64
#: A non-streamed response that a translation or a policy must see whole is held up to this size.
MAX_BUFFERED_RESPONSE = 64 * 1024 * 1024


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
                err = GatewayError("Internal gateway error.")
                self._fail(conn, client_api_for_unmatched(req.path), err, "internal")
            else:
                conn.abort()
        finally:
            state.inflight -= 1
            if state.draining:  # shutting down: answer what is in flight, keep no connection alive
                conn.close()

    async def _handle(self, req: Request, conn: Connection) -> None:
        state = self.state
        ex = Exchange(
            self.ids.next(),
            time.time(),
            req.method,
            req.path,
            req.query,
            req.headers,
            client_address(conn.peer, req.headers, state.trusted_hops) if state.trusted_hops else conn.peer,
        )
        route = state.snapshot.match(req.path)
        if route is None:
            if req.path.startswith(PROBE_PREFIX):
                probe = probe_response(req.method, req.path, state.readiness)
                if probe is not None:
                    conn.send_response(*probe)
                    return
            err = RouteNotFoundError(f"No API is deployed at {req.path!r}.")
            self._fail(conn, client_api_for_unmatched(req.path), err, ex.request_id)
            return
        ex.route = route
        if state.tracing is not None:
            state.tracing.start(ex)
        client = ex.client_api = route.client_api
        chain = route.chain
        if state.backoff_active:  # someone presented a wrong key since start: is this client and key id blocked?
            wait = state.backoff.retry_after(_backoff_bucket(ex, route)) or state.address_backoff.retry_after(
                ex.client_ip
            )
            if wait is not None:  # not even checked, not logged one by one
                self._refuse(conn, ex, RateLimitedError("Too many requests with an invalid API key.", retry_after=wait))
                return
        try:
            ex.key_id = route.auth.authenticate(req.headers, req.query)
        except AuthenticationError as err:
            self._refuse(conn, ex, self._key_failed(ex, route, err))
            return
        try:
            ex.sub_path = sub_path = req.path[len(route.context) :] or "/"
            if "/." in sub_path or "%2" in sub_path:  # cheap screen; the exact check decodes
                _check_dot_segments(sub_path)
            for hook in chain.request_headers:
                verdict = await hook(ex)
                if verdict is not None:
                    raise verdict
            ex.body = await req.read_body(route.max_body)  # only now, authenticated: 413 over the route's limit
            if chain.needs_request_body or client.reads_body(req.method, sub_path):
                ex.body_obj = _parse_body(ex.body)
            ex.facts = facts = client.request_facts(sub_path, req.query, ex.body_obj)
            ex.is_stream = facts.is_streaming
            if route.models is not None:
                _check_model(route.models, ex)
            for body_hook in chain.request_body:
                answer = await body_hook(ex)
                if answer is not None:
                    if isinstance(answer, Reply):  # answered without an upstream (a cache hit)
                        self._reply(conn, ex, answer)
                        return
                    raise answer
            resp, translation = await self._call_upstream(route, ex)
        except GatewayError as err:
            ex.status = self._fail(conn, client, err, ex.request_id)
            ex.error = err.code
            self._finish(ex)
            return
        if ex.key_id is not None:
            state.key_last_used[ex.key_id] = ex.started
        ex.ttfb_ms = (time.time() - ex.started) * 1000.0
        ex.status = resp.status
        headers = _response_headers(resp.headers, ex.request_id)
        if translation is not None:
            headers = translation.response_headers(resp.status, headers)
        ex.response_headers = headers
        try:
            for check in chain.response_headers:
                verdict = check(ex)
                if verdict is not None:
                    raise verdict
            is_sse = (resp.header(b"content-type") or b"").startswith(_EVENT_STREAM)
            if is_sse or (ex.facts.is_streaming and _relayed_as_stream(ex, resp)):
                ex.is_stream = True  # metered as what the upstream sent, whatever the client asked
                state.streams += 1
                try:
                    await self._stream(conn, ex, resp, translation, client, is_sse)
                finally:
                    state.streams -= 1
            else:
                ex.is_stream = False
                await self._relay_body(conn, ex, resp, translation)
        except GatewayError as err:  # failed before anything was sent to the client (else: cut it)
            resp.release()
            if isinstance(err, UpstreamError) and ex.target is not None:
                state.upstream_errors.failed(ex.target.name, err)
            if conn.response_started:
                conn.abort()
                ex.status = err.status
            else:
                ex.status = self._fail(conn, client, err, ex.request_id)
            ex.error = err.code
            self._finish(ex)
            return
        except BaseException:
            resp.release()
            ex.status = 499
            ex.error = "client_disconnected"
            self._finish(ex)
            raise
        resp.release()
        self._finish(ex)

    async def _call_upstream(self, route: Route, ex: Exchange) -> tuple[UpstreamResponse, Translation | None]:
        """Pick a target, translate the request for it, send it; on a failure before the response head
        (or a status the chain retries) try the next target. Raises the last failure when none is left."""
        if route.routing is not None:  # several targets: strategy, failover, breaker (gateway/failover.py)
            state = self.state
            return await route.routing.call(ex, partial(self._send, route, ex), state.usage, state.name)
        chain = route.chain
        candidates = route.targets
        failure: GatewayError | None = None
        while candidates:
            if chain.pick_target is not None:
                target = chain.pick_target(ex, candidates)
            else:  # one target (today's routes) is always "the first available": no health check needed
                target = candidates[0] if len(candidates) == 1 else first_available(candidates)
            if target is None:
                break
            candidates = tuple(t for t in candidates if t is not target) if len(candidates) > 1 else ()
            ex.target = target
            ex.attempts += 1
            if target.unavailable is not None or target.pool is None:
                failure = UpstreamError(f"Upstream unavailable: {target.unavailable}.", status=503)
                continue
            try:
                resp, translation = await self._send(route, ex, target)
            except UpstreamError as err:
                target.health.failed()
                failure = err
                continue
            if candidates and resp.status in chain.retry_statuses:
                resp.release()  # TODO(i6-transport): close instead of reading the body to its end
                failure = UpstreamError(f"Upstream answered {resp.status}.", status=502)
                continue
            if target.health.failures:
                target.health.succeeded()
            return resp, translation
        raise failure if failure is not None else UpstreamError("No upstream target is available.", status=503)

    async def _send(self, route: Route, ex: Exchange, target: Target) -> tuple[UpstreamResponse, Translation | None]:
        """One upstream attempt: the request for `target` (its headers, its translation), sent on its pool."""
        assert target.pool is not None
        up = ex.upstream = UpstreamRequest(
            ex.method, ex.sub_path, ex.query, _upstream_headers(route, target.default_headers, ex.headers), ex.body
        )
        translation = target.translator.start(ex.facts, up, ex.body_obj)
        if translation is not None:
            translation.request(up, ex.body_obj)
        url = target.target_url(up.path, up.query)
        ex.upstream_started = time.time()
        try:
            resp = await target.pool.request(up.method, url, up.headers, target.fixed_headers, up.body, target.timeout)
        except UpstreamError as err:
            self.state.upstream_errors.failed(target.name, err)  # every attempt, failed-over ones included
            raise
        return resp, translation

    async def _relay_body(
        self, conn: Connection, ex: Exchange, resp: UpstreamResponse, translation: Translation | None
    ) -> None:
        """A non-streamed response. Up to BUFFER_LIMIT with a known length: read whole, meter (2xx),
        translate, let buffering policies see it, send. Larger or of unknown length: relayed as it
        arrives with bounded memory (`_relay_pieces`), unless a translation or a policy must see it
        whole, which is then held up to MAX_BUFFERED_RESPONSE (502 past it)."""
        assert ex.route is not None
        length = resp.content_length
        chain = ex.route.chain
        if length is None or length > BUFFER_LIMIT:
            buffered = chain.response_complete or chain.response_complete_async
            if not buffered and not _rewrites_body(translation, resp.status):
                await self._relay_pieces(conn, ex, resp, length)
                return
            data = await _read_bounded(resp, MAX_BUFFERED_RESPONSE)
        else:
            data = await resp.read()
        status = resp.status
        if 200 <= status < 300:
            assert ex.target is not None
            ex.result = ex.target.backend.usage_from_json(data, ex.facts.model)
        if translation is not None:
            if status < 400:
                data = translation.response_body(data)
            else:
                status, ex.response_headers, data = translation.error(status, ex.response_headers, data)
                ex.status = status
        for hook in chain.response_complete:
            outcome = hook(ex, data)
            if isinstance(outcome, GatewayError):
                raise outcome
            data = outcome
        for awaited in chain.response_complete_async:  # only chains with a check that needs I/O
            outcome = await awaited(ex, data)
            if isinstance(outcome, GatewayError):
                raise outcome
            data = outcome
        conn.send_response(status, ex.response_headers, data)

    async def _relay_pieces(self, conn: Connection, ex: Exchange, resp: UpstreamResponse, length: int | None) -> None:
        """Relay a non-streamed body piece by piece as it arrives (with its length, or chunked when it
        has none); a 2xx is metered on the side by the backend's body tap, which keeps only its edges.
        An upstream failure after the head went out breaks the connection (a JSON body has no error
        event) and is recorded as a 502."""
        assert ex.target is not None
        tap = ex.target.backend.new_body_tap(ex.facts.model) if 200 <= resp.status < 300 else None
        chunk = await resp.next_chunk()  # a failure before any byte is still a clean error
        conn.start_stream(resp.status, ex.response_headers, length)
        try:
            while chunk is not None:
                if tap is not None:
                    tap.feed(chunk)
                if resp.is_drained:
                    conn.end_stream(chunk)
                    break
                await conn.write_chunk(chunk)
                chunk = await resp.next_chunk()
            else:
                conn.end_stream()
        except UpstreamError as err:
            conn.abort()
            self.state.upstream_errors.failed(ex.target.name, err)
            log.warning("request %s: upstream body failed: %s", ex.request_id, err.message)
            ex.status, ex.error = 502, err.code
        if tap is not None:
            tap.close()
            ex.result = tap.result()

    async def _stream(
        self,
        conn: Connection,
        ex: Exchange,
        resp: UpstreamResponse,
        translation: Translation | None,
        client: ClientAPI,
        is_sse: bool,
    ) -> None:
        """Relay a stream chunk by chunk. The backend's tap reads what the upstream sent (usage, model,
        in-band errors); the translation and policy filters rewrite what the client gets; policy taps
        read it after it was queued.

        A failure mid-stream (upstream cut, a filter's GatewayError) ends the stream with the client
        API's in-stream error event where it has one (SSE only), otherwise by breaking the connection,
        so the client never mistakes a cut stream for a complete answer. Either way it is recorded as
        an error (status 502 or the error's own)."""
        assert ex.target is not None and ex.route is not None
        chain = ex.route.chain
        tap = ex.target.backend.new_stream_tap(ex.facts.model)
        filters: list[ChunkFilter] | None = None
        taps: list[ChunkTap] | None = None
        if chain.stream_filters:
            filters = [f for make in chain.stream_filters if (f := make(ex)) is not None]
        if chain.stream_taps:
            taps = [t for make in chain.stream_taps if (t := make(ex)) is not None]
        # A JSON-array stream sent whole keeps the upstream's length while nothing rewrites the bytes (read
        # before the first chunk is taken: a drained body reports 0); SSE streams are never looked up.
        length = resp.content_length if not is_sse and translation is None and not filters else None
        chunk = await resp.next_chunk()  # surface a failure before the head goes out, as a clean error
        conn.start_stream(resp.status, ex.response_headers, length)
        try:
            while chunk is not None:
                tap.feed(chunk)
                out = translation.stream_chunk(chunk) if translation is not None else chunk
                if filters:
                    for flt in filters:
                        out = flt.feed(out)
                if resp.is_drained:  # the whole rest is here: head, data and end leave in one write
                    try:
                        if chain.awaits_stream_end:
                            out += await _stream_end_awaited(translation, filters)
                        else:
                            out += _stream_end(translation, filters)
                    except GatewayError:  # an end-of-stream verdict: the data is the client's, then the error
                        await conn.write_chunk(out)
                        raise
                    conn.end_stream(out)
                    if taps:
                        for reader in taps:
                            reader.feed(out)
                    break
                await conn.write_chunk(out)
                if taps:
                    for reader in taps:
                        reader.feed(out)
                chunk = await resp.next_chunk()
            else:
                if chain.awaits_stream_end:
                    out = await _stream_end_awaited(translation, filters)
                else:
                    out = _stream_end(translation, filters)
                conn.end_stream(out)
                if taps:
                    for reader in taps:
                        reader.feed(out)
            if taps:
                for reader in taps:
                    reader.close()
        except GatewayError as err:
            if isinstance(err, UpstreamError):
                self.state.upstream_errors.failed(ex.target.name, err)
            frame = client.stream_error_frame(err) if is_sse else None
            if frame is not None and not conn.closed:
                await conn.write_chunk(frame)
                conn.end_stream()
            else:
                conn.abort()
            log.warning("request %s: stream ended early: %s", ex.request_id, err.message)
            ex.status = err.status if err.status >= 400 else 502
            ex.error = err.code
        tap.close()
        ex.result = tap.result()
        if ex.error is None and tap.error is not None:
            ex.status = 502 if ex.status < 400 else ex.status
            ex.error = tap.error[:_ERROR_CODE_MAX]

    def _reply(self, conn: Connection, ex: Exchange, reply: Reply) -> None:
        """Send a policy's `Reply`: response-head hooks run (they may still refuse it), then the whole
        body goes out in one write and the exchange completes."""
        assert ex.route is not None
        ex.ttfb_ms = (time.time() - ex.started) * 1000.0
        ex.status = reply.status
        ex.is_stream = reply.is_stream
        ex.response_headers = [*reply.headers, (b"x-request-id", ex.request_id.encode())]
        for check in ex.route.chain.response_headers:
            verdict = check(ex)
            if verdict is not None:
                raise verdict
        if ex.key_id is not None:
            self.state.key_last_used[ex.key_id] = ex.started
        conn.send_response(reply.status, ex.response_headers, reply.body)
        self._finish(ex)

    def _key_failed(self, ex: Exchange, route: Route, err: AuthenticationError) -> GatewayError:
        """Count a wrong key against the client (backoff) and log it by fingerprint, never the value; the
        error to answer. A request without any key is a misconfigured client, not a guess: only answered."""
        presented = route.auth.presented(ex.headers, ex.query)
        if presented is None:
            return err
        state = self.state
        backoff = state.backoff
        state.backoff_active = True
        blocked = backoff.record_failure(_backoff_bucket(ex, route))
        blocked_address = state.address_backoff.record_failure(ex.client_ip)
        log.warning(
            "gateway key refused: client=%s route=%s fp=%s %s",
            ex.client_ip,
            route.context,
            fingerprint(presented),
            err.message,
        )
        if blocked is None and blocked_address is None:
            return err
        if blocked_address is not None:  # guessing across key ids: the whole address waits
            blocked, count, which = (
                max(blocked or 0.0, blocked_address),
                state.address_backoff.max_failures,
                "of any id",
            )
        else:
            count, which = backoff.max_failures, "for one key id"
        assert blocked is not None
        log.warning("client %s blocked for %.0f s after %d invalid keys %s", ex.client_ip, blocked, count, which)
        return RateLimitedError("Too many requests with an invalid API key.", retry_after=blocked)

    def _refuse(self, conn: Connection, ex: Exchange, err: GatewayError) -> None:
        """Answer a request refused before it was authenticated; counted, recorded only up to a rate."""
        assert ex.client_api is not None
        ex.status = self._fail(conn, ex.client_api, err, ex.request_id)
        ex.error = err.code
        self.state.refusals.refused(ex, self.state)

    def _fail(self, conn: Connection, client: ClientAPI, err: GatewayError, request_id: str) -> int:
        status, headers, body = client.error_response(err, request_id)
        headers = [*headers, (b"x-request-id", request_id.encode())]
        conn.send_response(status, headers, body)
        if status >= 500:
            log.warning("request %s failed: %s %s", request_id, status, err.message)
        return status

    def _finish(self, ex: Exchange) -> None:
        """Completion: the client has everything. Completion hooks run, then the usage row is queued."""
        route = ex.route
        assert route is not None
        for hook in route.chain.completion:
            try:
                hook(ex)
            except Exception:  # a completion hook cannot change the answer; it must not lose the record
                log.exception("request %s: completion hook failed", ex.request_id)
        state = self.state
        state.usage.submit(record(ex, state.name, (time.time() - ex.started) * 1000.0))


def _relayed_as_stream(ex: Exchange, resp: UpstreamResponse) -> bool:
    """Whether a non-SSE answer to a streaming request is a stream: one without a length, or a 2xx of a
    backend that streams JSON arrays (Gemini without `alt=sse`, even sent whole with a Content-Length),
    which is then relayed as it arrives and metered by the stream tap, not read as one object."""
    if resp.header(b"content-length") is None:
        return True
    assert ex.target is not None
    return ex.target.backend.array_streams and 200 <= resp.status < 300


def _rewrites_body(translation: Translation | None, status: int) -> bool:
    """Whether `translation` must see this whole non-streamed body (identity translations need not)."""
    if translation is None:
        return False
    method = "response_body" if status < 400 else "error"
    return getattr(type(translation), method, None) is not getattr(IdentityTranslation, method)


async def _read_bounded(resp: UpstreamResponse, limit: int) -> bytes:
    """The whole body, refused (502) once it passes `limit`: a translation or policy that must see a
    body whole gets a bound, as Envoy answers 500 past its buffer limit."""
    parts: list[bytes] = []
    size = 0
    while (chunk := await resp.next_chunk()) is not None:
        size += len(chunk)
        if size > limit:
            raise UpstreamError(f"Upstream response is larger than {limit} bytes and cannot be translated.")
        parts.append(chunk)
    return b"".join(parts)


def _backoff_bucket(ex: Exchange, route: Route) -> str:
    """What wrong keys are counted against: the client address and the key id it presents ("-" when
    malformed). Guessing the secret of one key blocks that client for that key; other clients, and
    the client's own valid keys (e.g. many users behind one proxy address), keep working."""
    presented = route.auth.presented(ex.headers, ex.query)
    parsed = split_key(presented) if presented else None
    return f"{ex.client_ip} {parsed[0] if parsed is not None else '-'}"


def _stream_end(translation: Translation | None, filters: list[ChunkFilter] | None) -> bytes:
    """What the translation and the filters still hold at the end of the stream, through the filters after them."""
    out = translation.stream_end() if translation is not None else b""
    if filters:
        for flt in filters:
            out = flt.feed(out) + flt.close() if out else flt.close()
    return out


async def _stream_end_awaited(translation: Translation | None, filters: list[ChunkFilter] | None) -> bytes:
    """`_stream_end` for chains whose filters' end-of-stream verdict needs I/O (`AsyncChunkFilter.aclose`)."""
    out = translation.stream_end() if translation is not None else b""
    for flt in filters or ():
        fed = flt.feed(out) if out else b""
        out = fed + (await flt.aclose() if isinstance(flt, AsyncChunkFilter) else flt.close())
    return out


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


def _check_model(models: frozenset[str], ex: Exchange) -> None:
    """The allow-list fails closed: a model outside it, or a model-invoking request that names none the
    client API can read (missing, null, empty, not a string, an unknown path shape), is refused."""
    model = ex.facts.model
    if model is None:
        if ex.method in _READ_METHODS:
            return
        raise ModelNotAllowedError("This API serves only its listed models, and the request names none.")
    if model not in models:
        raise ModelNotAllowedError(f"Model {model!r} is not allowed on this API.")


def _check_dot_segments(path: str) -> None:
    from urllib.parse import unquote

    for segment in unquote(path).split("/"):
        if segment in (".", ".."):
            raise BadRequestError("Path must not contain '.' or '..' segments.")


def _upstream_headers(route: Route, defaults: HeaderList, client_headers: HeaderList) -> HeaderList:
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
    for name, value in defaults:
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
