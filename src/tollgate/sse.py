"""The one Server-Sent Events frame splitter of Tollgate, plus cheap field readers for one frame.

A leaf module, below both `gateway/` and `providers/`. It cuts a byte stream into complete events,
each with its terminating blank line, so frames can be re-emitted byte-exact; it keeps only the
incomplete tail. It does not decode text, strip comments or rewrite anything: taps, translators and
policies decide what a frame means.
"""

from __future__ import annotations

__all__ = ["SSEFrameSplitter", "event_spans", "first_event_span", "parse_frame", "split_frames", "without_spans"]

_LF = 0x0A


class SSEFrameSplitter:
    """Splits an SSE byte stream into complete frames; one per stream, not thread-safe.

    A frame ends at the first empty line, whatever the line endings: LF, CRLF or CR (the SSE spec
    allows all three, mixed). Every two consecutive line ends contain `\\n\\n`, `\\n\\r` or `\\r\\r`,
    so three `bytes.find` calls locate a boundary; no regex and no per-byte Python loop. A frame
    whose ending is still ambiguous (a trailing `\\r` that may be the start of `\\r\\n`) waits for
    the next chunk, or for `close()`.

    Invariant: the concatenation of every returned frame plus `close()` equals the input.
    """

    __slots__ = ("_scanned", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        #: how far into `_tail` no boundary can start (so a long frame fed byte by byte is scanned once)
        self._scanned = 0

    @property
    def pending(self) -> int:
        """Bytes held back: the incomplete trailing frame."""
        return len(self._tail)

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add `chunk`; return the frames it completed (possibly none), in order."""
        if self._tail:
            buf = self._tail + chunk
            start_scan = self._scanned
        else:
            buf = chunk
            start_scan = 0
        frames: list[bytes] = []
        start = 0
        find = buf.find
        if b"\r" not in buf:
            # Fast path (LF framing, the usual case): one pattern, one find per frame.
            end = find(b"\n\n", start_scan)
            while end >= 0:
                frames.append(buf[start : end + 2])
                start = end + 2
                end = find(b"\n\n", start)
        else:
            start = self._split_any(buf, start_scan, frames)
        self._tail = buf[start:] if start else buf
        # A boundary can start at most two bytes before the end of what has been seen.
        self._scanned = max(0, len(self._tail) - 2)
        return frames

    @staticmethod
    def _split_any(buf: bytes, start_scan: int, frames: list[bytes]) -> int:
        """Cut frames with any line endings into `frames`; return where the unfinished tail starts."""
        start = 0
        size = len(buf)
        find = buf.find
        # Next position of each pattern; -1 = absent from the rest of `buf`.
        lf_lf = find(b"\n\n", start_scan)
        lf_cr = find(b"\n\r", start_scan)
        cr_cr = find(b"\r\r", start_scan)
        while True:
            # The earliest pattern start is the frame's boundary (two patterns never share a start).
            p = lf_lf
            if lf_cr >= 0 and (p < 0 or lf_cr < p):
                p = lf_cr
            if cr_cr >= 0 and (p < 0 or cr_cr < p):
                p = cr_cr
            if p < 0:
                return start
            if p == lf_lf:
                end = p + 2
            elif p + 2 < size:
                # "\n\r" or "\r\r": the blank line is "\r" alone or "\r\n".
                end = p + 3 if buf[p + 2] == _LF else p + 2
            else:
                return start  # a trailing "\r" may be half of "\r\n": wait for the next byte
            frames.append(buf[start:end])
            start = end
            if 0 <= lf_lf < start:
                lf_lf = find(b"\n\n", start)
            if 0 <= lf_cr < start:
                lf_cr = find(b"\n\r", start)
            if 0 <= cr_cr < start:
                cr_cr = find(b"\r\r", start)

    def feed_through(self, chunk: bytes) -> bytes:
        """Like `feed`, but the completed frames come back as one bytes object, never split.

        For taps that look inside frames only now and then: keeping the frame boundaries costs one
        `rfind` per chunk instead of one slice per frame.
        """
        buf = self._tail + chunk if self._tail else chunk
        if b"\r" in buf:
            frames = self.feed(chunk)
            return frames[0] if len(frames) == 1 else b"".join(frames)
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._tail = buf
            self._scanned = max(0, len(buf) - 2)
            return b""
        end += 2
        self._tail = buf[end:]
        self._scanned = max(0, len(self._tail) - 2)
        return buf if end == len(buf) else buf[:end]

    def tail_end(self, size: int) -> bytes:
        """The last `size` bytes held back (to find a token split across two chunks)."""
        return self._tail[-size:]

    def close(self) -> bytes:
        """End of stream: return (and forget) the incomplete last frame, possibly empty."""
        tail = self._tail
        self._tail = b""
        self._scanned = 0
        return tail


def parse_frame(frame: bytes) -> tuple[bytes | None, bytes | None]:
    """The `event:` name and the `data:` payload of one frame, as bytes; None where absent.

    Several `data:` lines are joined with `\\n` as the SSE spec says; one space after the colon is
    removed. Comment lines (`:`) and other fields are ignored.
    """
    event: bytes | None = None
    data: bytes | None = None
    more: list[bytes] | None = None
    for line in frame.splitlines():
        if line.startswith(b"data"):
            if line.startswith(b"data:"):
                value = line[6:] if line[5:6] == b" " else line[5:]
            elif line == b"data":
                value = b""
            else:
                continue
            if data is None:
                data = value
            elif more is None:
                more = [data, value]
            else:
                more.append(value)
        elif line.startswith(b"event:"):
            event = line[7:] if line[6:7] == b" " else line[6:]
    if more is not None:
        data = b"\n".join(more)
    return event, data


def split_frames(buf: bytes) -> list[bytes]:
    """The complete frames of `buf` (which must end on a frame boundary), in order, with any line endings."""
    return SSEFrameSplitter().feed(buf)


def event_spans(buf: bytes, needle: bytes) -> list[tuple[int, int]]:
    """(start, end) of each LF-framed event of `buf` containing `needle`, in order, disjoint.

    `buf` holds whole events (as `SSEFrameSplitter.feed_through` returns them). Looking for a needle
    first and cutting only the events around it keeps a stream's common frames unsliced.
    """
    spans: list[tuple[int, int]] = []
    pos = buf.find(needle)
    while pos >= 0:
        start = buf.rfind(b"\n\n", 0, pos)
        start = 0 if start < 0 else start + 2
        end = buf.find(b"\n\n", pos)
        end = len(buf) if end < 0 else end + 2
        spans.append((start, end))
        pos = buf.find(needle, end)
    return spans


def first_event_span(buf: bytes, needle: bytes) -> tuple[int, int] | None:
    """(start, end) of the first LF-framed event of `buf` containing `needle`, or None: `event_spans`
    for when one is enough (a stream's model), without cutting every other event that names it."""
    pos = buf.find(needle)
    if pos < 0:
        return None
    start = buf.rfind(b"\n\n", 0, pos)
    end = buf.find(b"\n\n", pos)
    return (0 if start < 0 else start + 2, len(buf) if end < 0 else end + 2)


def without_spans(buf: bytes, spans: list[tuple[int, int]]) -> bytes:
    """`buf` minus the given sorted, disjoint (start, end) byte ranges."""
    if not spans:
        return buf
    parts = []
    pos = 0
    for start, end in spans:
        parts.append(buf[pos:start])
        pos = end
    parts.append(buf[pos:])
    return b"".join(parts)
