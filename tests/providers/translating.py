"""Drive a translator the way the relay does: request once, then the stream in every chunking."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from tests.providers.chunking import chunkings
from tollgate.providers.translation import Translator
from tollgate.types import JSONObject

CREATED = 1_764_547_200
CLOCK = float(CREATED)


def translate_stream(
    make: Callable[[], Translator], path: str, body: JSONObject, upstream: bytes, *, random_runs: int = 10
) -> bytes:
    """The client stream `upstream` becomes, checked to be the same whole, per byte and in random splits."""
    outputs: set[bytes] = set()
    for chunks in chunkings(upstream, random_runs=random_runs):
        translator = make()
        translator.request(path, "", body)
        outputs.add(b"".join(translator.stream_chunk(c) for c in chunks) + translator.stream_end())
    assert len(outputs) == 1, "the output depends on how the stream was cut"
    return outputs.pop()


def frames(data: bytes) -> list[JSONObject | str]:
    """The decoded `data:` payloads of an SSE byte stream (non-JSON ones as text), with `event:` names."""
    out: list[JSONObject | str] = []
    for frame in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        if not frame.strip():
            continue
        event = None
        payload = b""
        for line in frame.split(b"\n"):
            if line.startswith(b"event: "):
                event = line[7:].decode()
            elif line.startswith(b"data: "):
                payload = line[6:]
        if payload.startswith(b"{"):
            obj = orjson.loads(payload)
            if event is not None:
                obj = {"event": event, **obj}
            out.append(obj)
        else:
            out.append(payload.decode())
    return out


def sse(*objects: JSONObject, crlf: bool = False) -> bytes:
    eol = b"\r\n" if crlf else b"\n"
    return b"".join(b"data: " + orjson.dumps(o) + eol + eol for o in objects)


def anthropic_events(*events: tuple[str, JSONObject]) -> bytes:
    return b"".join(b"event: " + k.encode() + b"\ndata: " + orjson.dumps({"type": k, **d}) + b"\n\n" for k, d in events)
