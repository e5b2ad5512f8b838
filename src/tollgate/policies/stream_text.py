"""Reads the answer's text out of a response stream as it passes, for response guardrails.

One reader per streamed response: it cuts the bytes into SSE events with the one frame splitter,
decodes each event's JSON and collects the text the client API's stream paths reach. It never holds
a chunk back (it is given chunks after they were queued to the client) and keeps only an incomplete
trailing frame. Malformed events are skipped.
"""

from __future__ import annotations

import re

import orjson

from tollgate.policies.jsonpath import JSONPath, texts_of
from tollgate.sse import SSEFrameSplitter
from tollgate.types import JSONValue

__all__ = ["StreamTextReader", "frame_json"]


def frame_json(frame: bytes) -> JSONValue | None:
    """The decoded `data:` of one SSE event, or None (no data, `[DONE]`, not JSON)."""
    data: list[bytes] = []
    for line in frame.splitlines():
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
    if not data:
        return None
    payload = b"\n".join(data)
    if payload == b"[DONE]":
        return None
    try:
        return orjson.loads(payload)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return None


class StreamTextReader:
    """Feeds on stream chunks; `feed` returns the text completed by this chunk (may be "").

    With `fields` (the client API's default text fields) the text is found in the raw bytes of the
    complete events by one compiled regex, without decoding each event's JSON: the default, and
    several times cheaper. With a user's JSONPath, each event that carries data is decoded.
    """

    __slots__ = ("_fields", "_paths", "_splitter", "_tail")

    def __init__(self, paths: tuple[JSONPath, ...], fields: re.Pattern[bytes] | None = None) -> None:
        self._paths = paths
        self._fields = fields
        self._splitter = SSEFrameSplitter()
        self._tail = b""

    def feed(self, chunk: bytes) -> str:
        if self._fields is not None:
            buf = self._tail + chunk if self._tail else chunk
            cut = max(buf.rfind(b"\n\n"), buf.rfind(b"\r\n\r\n"))
            if cut < 0:
                self._tail = buf
                return ""
            end = cut + (2 if buf[cut : cut + 2] == b"\n\n" else 4)
            self._tail = buf[end:]
            return _field_text(self._fields, buf[:end])
        frames = self._splitter.feed(chunk)
        return "".join(self._text(frame) for frame in frames) if frames else ""

    def close(self) -> str:
        if self._fields is not None:
            tail, self._tail = self._tail, b""
            return _field_text(self._fields, tail) if tail else ""
        tail = self._splitter.close()
        return self._text(tail) if tail else ""

    def _text(self, frame: bytes) -> str:
        if b"data:" not in frame:
            return ""
        document = frame_json(frame)
        if document is None:
            return ""
        return "".join(t for path in self._paths for t in texts_of(path.select(document)))


def _field_text(fields: re.Pattern[bytes], data: bytes) -> str:
    """The decoded string values of every text field in `data` (complete events), in order."""
    out: list[str] = []
    for raw in fields.findall(data):
        if b"\\" in raw:
            try:
                out.append(orjson.loads(b'"' + raw + b'"'))
            except orjson.JSONDecodeError:
                continue
        else:
            out.append(raw.decode("utf-8", "replace"))
    return "".join(out)
