"""`CachedAnswer`: one answer as the client got it, with what metering needs, and its wire form.

The wire form (for Redis) is one JSON header line then the raw body, so a body is never re-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = ["CachedAnswer"]

#: Bytes counted per entry on top of its body (key, header, bookkeeping), for the byte bound.
ENTRY_OVERHEAD = 256


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A 200 answer, byte for byte as the client received it (a stream as the whole event stream).

    `prompt_tokens` and `completion_tokens` are what the original exchange was metered at: a hit
    reports them as saved, never as used.
    """

    created: float
    is_stream: bool
    content_type: bytes
    response_model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD

    @property
    def saved_tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def encode(self) -> bytes:
        head = orjson.dumps(
            [
                self.created,
                self.is_stream,
                self.content_type.decode("latin-1"),
                self.response_model,
                self.prompt_tokens,
                self.completion_tokens,
            ]
        )
        return head + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes) -> CachedAnswer | None:
        """The answer `encode` wrote, or None for anything else (a foreign or corrupt value is a miss)."""
        head, sep, body = data.partition(b"\n")
        if not sep:
            return None
        try:
            created, is_stream, content_type, model, prompt, completion = orjson.loads(head)
            content = str(content_type).encode("latin-1")
            return cls(float(created), bool(is_stream), content, model, prompt, completion, body)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            return None
