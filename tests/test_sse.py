"""Tests for sse.py: frames survive every chunking byte-exact, in LF, CRLF and CR framing."""

from __future__ import annotations

import random

import pytest

from tollgate.sse import SSEFrameSplitter, event_spans, first_event_span, parse_frame, split_frames, without_spans

LF = b'event: a\ndata: {"x": 1}\n\ndata: [DONE]\n\n'
CRLF = b'data: {"candidates": []}\r\n\r\ndata: {"y": 2}\r\n\r\n'
CR = b"event: a\rdata: 1\r\rdata: 2\r\r"
MIXED = b"data: 1\r\n\ndata: 2\n\r\ndata: 3\r\rdata: 4\n\n"


def split_all(chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    splitter = SSEFrameSplitter()
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(splitter.feed(chunk))
    return frames, splitter.close()


def chunkings(data: bytes) -> list[list[bytes]]:
    rng = random.Random(7)
    out = [[data], [data[i : i + 1] for i in range(len(data))]]
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, len(data) // 3)))
        out.append([data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)])
    return out


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (LF, [b'event: a\ndata: {"x": 1}\n\n', b"data: [DONE]\n\n"]),
        (CRLF, [b'data: {"candidates": []}\r\n\r\n', b'data: {"y": 2}\r\n\r\n']),
        (MIXED, [b"data: 1\r\n\n", b"data: 2\n\r\n", b"data: 3\r\r", b"data: 4\n\n"]),
    ],
)
def test_frames_are_byte_exact_in_every_chunking(stream: bytes, expected: list[bytes]) -> None:
    for chunks in chunkings(stream):
        frames, tail = split_all(chunks)
        assert frames == expected
        assert tail == b""


def test_cr_framing_waits_for_the_byte_after_a_trailing_cr() -> None:
    # "\r\r" at the very end may still become "\r\r\n": the last frame is held until close().
    for chunks in chunkings(CR):
        frames, tail = split_all(chunks)
        assert frames == [b"event: a\rdata: 1\r\r"]
        assert tail == b"data: 2\r\r"
    frames, tail = split_all([CR, b"data: 3\r\r\n"])
    assert frames == [b"event: a\rdata: 1\r\r", b"data: 2\r\r", b"data: 3\r\r\n"]
    assert tail == b""


def test_only_the_incomplete_tail_is_kept() -> None:
    splitter = SSEFrameSplitter()
    assert splitter.feed(b"data: 1\n\ndata: par") == [b"data: 1\n\n"]
    assert splitter.pending == len(b"data: par")
    assert splitter.feed(b"tial\n") == []
    assert splitter.feed(b"\n") == [b"data: partial\n\n"]
    assert splitter.pending == 0


def test_a_long_frame_fed_byte_by_byte() -> None:
    frame = b"data: " + b"x" * 5000 + b"\r\n\r\n"
    frames, tail = split_all([frame[i : i + 1] for i in range(len(frame))] + [frame])
    assert frames == [frame, frame]
    assert tail == b""


def test_concatenation_invariant_on_garbage() -> None:
    rng = random.Random(3)
    data = bytes(rng.choice(b"ab:\r\n ") for _ in range(3000))
    for chunks in chunkings(data)[:8]:
        frames, tail = split_all(chunks)
        assert b"".join(frames) + tail == data


def test_parse_frame_fields() -> None:
    assert parse_frame(b'event: message_start\ndata: {"a":1}\n\n') == (b"message_start", b'{"a":1}')
    assert parse_frame(b"data:no-space\r\n\r\n") == (None, b"no-space")
    assert parse_frame(b"data:  two spaces\n\n") == (None, b" two spaces")
    assert parse_frame(b"data: a\ndata: b\ndata\n\n") == (None, b"a\nb\n")
    assert parse_frame(b": keep-alive\n\n") == (None, None)
    assert parse_frame(b"id: 3\nretry: 10\ndatum: x\n\n") == (None, None)
    assert parse_frame(b"event:error\rdata: {}\r\r")[0] == b"error"
    assert parse_frame(b"event: ping\n\n")[1] is None


def test_feed_through_keeps_frames_whole_in_every_chunking() -> None:
    import random

    stream = b"".join(b'data: {"n": %d}\n\n' % i for i in range(30)) + b"data: partial"
    rng = random.Random(7)
    for _ in range(50):
        splitter = SSEFrameSplitter()
        out = []
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 40)
            complete = splitter.feed_through(stream[pos : pos + step])
            assert complete == b"" or complete.endswith(b"\n\n")
            out.append(complete)
            pos += step
        assert b"".join(out) + splitter.close() == stream


def test_feed_through_mixes_with_feed() -> None:
    splitter = SSEFrameSplitter()
    assert splitter.feed_through(b"data: a\n\ndata: b") == b"data: a\n\n"
    assert splitter.feed(b"\n\ndata: c\r\n\r\n") == [b"data: b\n\n", b"data: c\r\n\r\n"]
    assert splitter.feed_through(b"data: d\r\n\r\ndata:") == b"data: d\r\n\r\n"
    assert splitter.close() == b"data:"


def test_split_frames_cuts_whole_buffers_in_any_framing() -> None:
    frames = split_frames(b"data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n")
    assert frames == [b"data: 1\r\n\r\n", b"data: 2\r\r", b"data: 3\n\n"]


def test_event_spans_and_without_spans_cut_exactly_the_events_holding_the_needle() -> None:
    buf = b'data: {"a":1}\n\ndata: {"usage":2}\n\ndata: {"b":3}\n\ndata: {"usage":4}\n\n'
    spans = event_spans(buf, b'"usage"')
    assert [buf[s:e] for s, e in spans] == [b'data: {"usage":2}\n\n', b'data: {"usage":4}\n\n']
    assert without_spans(buf, spans) == b'data: {"a":1}\n\ndata: {"b":3}\n\n'
    assert without_spans(buf, []) is buf


def test_first_event_span_is_the_first_of_event_spans() -> None:
    buf = b'data: {"a":1}\n\ndata: {"model":"x","n":2}\n\ndata: {"model":"x","n":3}\n\n'
    span = first_event_span(buf, b'"model"')
    assert span == event_spans(buf, b'"model"')[0] == (15, 42)
    assert buf[15:42] == b'data: {"model":"x","n":2}\n\n'
    assert first_event_span(b'data: {"model":"y"}', b'"model"') == (0, 19)  # the last event, unterminated
    assert first_event_span(buf, b'"usage"') is None
