"""Tests for providers/error_shapes.py: retry headers and the per-vendor type mapping."""

from __future__ import annotations

import orjson
import pytest

from tollgate.errors import (
    AuthenticationError,
    GatewayError,
    GuardrailError,
    PermissionDeniedError,
    RateLimitedError,
    RouteNotFoundError,
    UpstreamConnectError,
)
from tollgate.providers.error_shapes import ERROR_SHAPERS, error_headers
from tollgate.sse import SSEFrameSplitter, parse_frame


def test_retry_after_is_whole_seconds_rounded_up_plus_exact_ms() -> None:
    headers = dict(error_headers(RateLimitedError("Slow down.", retry_after=1.2)))
    assert headers[b"retry-after"] == b"2"
    assert headers[b"retry-after-ms"] == b"1200"
    assert headers[b"content-type"] == b"application/json"
    assert b"x-should-retry" not in headers


@pytest.mark.parametrize(
    ("err", "stop_retries"),
    [
        (AuthenticationError("x"), True),
        (PermissionDeniedError("x"), True),
        (RouteNotFoundError("x"), True),
        (GuardrailError("x"), True),
        (GatewayError("x", status=408), False),
        (GatewayError("x", status=409), False),
        (RateLimitedError("x"), False),
        (UpstreamConnectError("x"), False),
    ],
)
def test_should_retry_false_only_for_hopeless_4xx(err: GatewayError, stop_retries: bool) -> None:
    headers = error_headers(err)
    assert ((b"x-should-retry", b"false") in headers) is stop_retries
    assert all(name != b"retry-after" for name, _ in headers)


def test_every_format_renders_the_message_as_json_and_one_complete_frame() -> None:
    err = PermissionDeniedError("Path not exposed.")
    for name, shaper in ERROR_SHAPERS.items():
        body = shaper.body(err, "req-1")
        assert isinstance(orjson.loads(body), dict), name
        assert b"Path not exposed." in body, name
        frame = shaper.frame(err)
        assert SSEFrameSplitter().feed(frame) == [frame], name
        assert parse_frame(frame)[1] is not None and b"Path not exposed." in frame, name


def test_vendor_type_strings() -> None:
    err = PermissionDeniedError("no")
    assert orjson.loads(ERROR_SHAPERS["openai"].body(err, "r"))["error"]["type"] == "permission_error"
    assert orjson.loads(ERROR_SHAPERS["anthropic"].body(err, "r"))["error"]["type"] == "permission_error"
    assert orjson.loads(ERROR_SHAPERS["gemini"].body(err, "r"))["error"]["status"] == "PERMISSION_DENIED"
    assert orjson.loads(ERROR_SHAPERS["mistral"].body(err, "r"))["type"] == "permission_error"
    upstream = UpstreamConnectError("down")
    assert orjson.loads(ERROR_SHAPERS["openai"].body(upstream, "r"))["error"]["type"] == "server_error"
    assert orjson.loads(ERROR_SHAPERS["gemini"].body(upstream, "r"))["error"]["code"] == 502
