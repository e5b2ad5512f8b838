"""`Recording`: a miss's answer, kept on the side as the client gets it, to be cached once it is complete.

A stream is recorded by the policy's stream tap, which sees each chunk after it was queued to the
client (so recording never delays it); a whole body is handed over by the RESPONSE_COMPLETE hook.
Past `limit` bytes the recording gives up and keeps nothing (the answer is then not cached).
"""

from __future__ import annotations

from array import array

__all__ = ["Recording"]


class Recording:
    """One miss being recorded; also the `ChunkTap` of its stream. One per request, not thread-safe.

    `key` is the exact key to store under; `partition` and `vector` index it in the semantic cache
    (None without one).
    """

    __slots__ = ("_parts", "_size", "body", "key", "limit", "overflowed", "partition", "vector")

    def __init__(self, key: str, limit: int, partition: str | None = None, vector: array[float] | None = None) -> None:
        self.key = key
        self.limit = limit
        self.partition = partition
        self.vector = vector
        self.body: bytes | None = None
        self.overflowed = False
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if self.overflowed or not chunk:
            return
        self._size += len(chunk)
        if self._size > self.limit:
            self.overflowed = True
            self._parts.clear()
            return
        self._parts.append(chunk)

    def close(self) -> None:
        if not self.overflowed:
            self.body = b"".join(self._parts)
            self._parts.clear()

    def whole(self, body: bytes) -> None:
        """A non-streamed answer, as the client gets it."""
        if len(body) > self.limit:
            self.overflowed = True
        else:
            self.body = body
