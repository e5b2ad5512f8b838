"""Reads the answer's text out of a response stream as it passes, for response guardrails.

One reader per streamed response: it cuts the bytes into SSE events with the one frame splitter,
decodes each event's JSON and collects the text the client API's stream paths reach. It never holds
a chunk back (it is given chunks after they were queued to the client) and keeps only an incomplete
trailing frame. Malformed events are skipped.
"""

from __future__ import annotations

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
    """Feeds on stream chunks; `feed` returns the text completed by this chunk (may be "")."""

    __slots__ = ("_paths", "_splitter")

    def __init__(self, paths: tuple[JSONPath, ...]) -> None:
        self._paths = paths
        self._splitter = SSEFrameSplitter()

    def feed(self, chunk: bytes) -> str:
        frames = self._splitter.feed(chunk)
        return "".join(self._text(frame) for frame in frames) if frames else ""

    def close(self) -> str:
        tail = self._splitter.close()
        return self._text(tail) if tail else ""

    def _text(self, frame: bytes) -> str:
        if b"data:" not in frame:
            return ""
        document = frame_json(frame)
        if document is None:
            return ""
        return "".join(t for path in self._paths for t in texts_of(path.select(document)))
