"""Real streaming for the mocks: a stream plan (frames) played one frame per send, with behaviours.

`MockStreamResponse` can also drop the connection mid-body (`[mock:break]`): it then returns without
the final empty body, and the server closes the socket, as an upstream reset would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from tollgate.mock.behaviour import Behaviour


class StreamBreakError(Exception):
    """Raised inside a mock stream to end it without a proper end of body."""


class MockStreamResponse(StreamingResponse):
    """A `StreamingResponse` that sends each frame as it is produced and can break the connection."""

    media_type = "text/event-stream"

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                data = (
                    chunk
                    if isinstance(chunk, bytes)
                    else bytes(chunk)
                    if isinstance(chunk, memoryview)
                    else chunk.encode()
                )
                await send({"type": "http.response.body", "body": data, "more_body": True})
        except StreamBreakError:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """The frames of one stream: `head` before the text, one `body` frame per text piece, `tail` after.

    `error` is the vendor's in-stream error frame, sent instead of the rest on `[mock:stream-error]`.
    """

    head: list[bytes]
    body: list[bytes]
    tail: list[bytes]
    error: bytes


def cut_index(body_frames: int) -> int:
    """Where a broken or failing stream stops: after half of the text frames (at least one)."""
    return max(1, body_frames // 2)


async def play(plan: StreamPlan, behaviour: Behaviour) -> AsyncIterator[bytes]:
    """Yield the plan's frames, sleeping `chunk_delay_ms` before each text frame and before the tail."""
    for frame in plan.head:
        yield frame
    stop_at = cut_index(len(plan.body)) if behaviour.breaks or behaviour.stream_error else None
    for index, frame in enumerate(plan.body):
        if index == stop_at:
            break
        if behaviour.chunk_delay_ms:
            await asyncio.sleep(behaviour.chunk_delay_ms / 1000)
        yield frame
    if behaviour.stream_error:
        yield plan.error
        return
    if behaviour.breaks:
        raise StreamBreakError
    if behaviour.chunk_delay_ms:
        await asyncio.sleep(behaviour.chunk_delay_ms / 1000)
    for frame in plan.tail:
        yield frame


def whole_body(plan: StreamPlan, behaviour: Behaviour) -> bytes:
    """Every frame `play` would send, at once (a break cannot happen in a body of known length)."""
    stop_at = cut_index(len(plan.body)) if behaviour.stream_error else len(plan.body)
    frames = [*plan.head, *plan.body[:stop_at]]
    frames += [plan.error] if behaviour.stream_error else plan.tail
    return b"".join(frames)


def stream_response(plan: StreamPlan, behaviour: Behaviour, *, media_type: str = "text/event-stream") -> Response:
    """The streaming response playing `plan`, never buffered or compressed; with `unchunked`, the same
    frames as one body with a Content-Length (what a client gets through a buffering proxy)."""
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    if behaviour.unchunked:
        return Response(whole_body(plan, behaviour), media_type=media_type, headers=headers)
    return MockStreamResponse(play(plan, behaviour), media_type=media_type, headers=headers)
