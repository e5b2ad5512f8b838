"""W3C trace context on the data plane (gateway/tracing.py): parsing `traceparent`, sampling, the header
passed upstream."""

from __future__ import annotations

import pytest

from tollgate.gateway.exchange import Exchange
from tollgate.gateway.tracing import Tracing, parse_traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (f"00-{TRACE}-{PARENT}-01", (TRACE, PARENT, True)),
        (f"00-{TRACE}-{PARENT}-00", (TRACE, PARENT, False)),
        (f"00-{TRACE}-{PARENT}-03", (TRACE, PARENT, True)),  # other flags are ignored
        (f"01-{TRACE}-{PARENT}-01-what-comes-later", (TRACE, PARENT, True)),  # a later version may say more
        (f"00-{TRACE}-{PARENT}-01-more", None),  # version 00 is exactly 55 characters
        (f"01-{TRACE}-{PARENT}-01more", None),
        (f"ff-{TRACE}-{PARENT}-01", None),
        (f"00-{TRACE.upper()}-{PARENT}-01", None),
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE}-{PARENT}", None),
        (f"00_{TRACE}-{PARENT}-01", None),
        ("", None),
    ],
)
def test_parse_traceparent(value: str, parsed: tuple[str, str, bool] | None) -> None:
    assert parse_traceparent(value.encode()) == parsed


def _exchange(*headers: tuple[bytes, bytes]) -> Exchange:
    return Exchange("r", 0.0, "POST", "/p/v1/chat/completions", "", list(headers), "10.0.0.1")


def test_a_sampled_parent_is_continued_and_the_gateway_span_goes_upstream() -> None:
    ex = _exchange((b"x-api-key", b"k"), (b"traceparent", f"00-{TRACE}-{PARENT}-01".encode()))
    Tracing().start(ex)
    assert ex.trace is not None
    assert (ex.trace.trace_id, ex.trace.parent_span_id) == (TRACE, PARENT)
    assert len(ex.trace.span_id) == 16 and ex.trace.span_id != PARENT
    assert ex.headers == [(b"x-api-key", b"k"), (b"traceparent", f"00-{TRACE}-{ex.trace.span_id}-01".encode())]


def test_without_a_parent_a_trace_starts_here() -> None:
    ex = _exchange((b"traceparent", b"garbage"))
    Tracing().start(ex)
    assert ex.trace is not None and ex.trace.parent_span_id is None
    assert len(ex.trace.trace_id) == 32
    assert ex.headers == [(b"traceparent", f"00-{ex.trace.trace_id}-{ex.trace.span_id}-01".encode())]
    other = _exchange()
    Tracing().start(other)
    assert other.trace is not None and other.trace.trace_id != ex.trace.trace_id
    assert other.headers == [(b"traceparent", f"00-{other.trace.trace_id}-{other.trace.span_id}-01".encode())]


def test_not_sampled_is_respected_and_roots_follow_the_ratio() -> None:
    header = (b"traceparent", f"00-{TRACE}-{PARENT}-00".encode())
    ex = _exchange(header)
    Tracing().start(ex)
    assert ex.trace is None and ex.headers == [header]
    never = Tracing(ratio=0.0)
    roots = [_exchange() for _ in range(50)]
    for root in roots:
        never.start(root)
    assert all(r.trace is None and r.headers == [] for r in roots)
    half = Tracing(ratio=0.5)
    for root in roots:
        half.start(root)
    assert 5 < sum(r.trace is not None for r in roots) < 45
