"""Chunkings of a recorded stream: whole, byte by byte, and seeded random splits."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import orjson

from tollgate.providers.base import RequestFacts, StreamTap, Translation, Translator, UpstreamRequest
from tollgate.types import JSONObject
from tollgate.usage.record import UsageResult

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    """A recorded response body from tests/providers/fixtures."""
    return (FIXTURES / name).read_bytes()


def chunkings(data: bytes, *, random_runs: int = 20, seed: int = 1234) -> Iterator[list[bytes]]:
    """Every way a test must feed `data`: whole, per byte, and `random_runs` random splits."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(seed)
    for _ in range(random_runs):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, min(40, len(data) - 1))))
        yield [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def run_tap(tap: StreamTap, chunks: list[bytes]) -> UsageResult:
    """Feed `chunks` to a read-only tap, close it, return what it read."""
    for chunk in chunks:
        tap.feed(chunk)
    tap.close()
    return tap.result()


def run_translation(translation: Translation, chunks: list[bytes]) -> bytes:
    """What a client receives when `chunks` pass through `translation`'s stream filter."""
    out = [translation.stream_chunk(chunk) for chunk in chunks]
    out.append(translation.stream_end())
    return b"".join(out)


def translate(
    translator: Translator, path: str, query: str, body: JSONObject | None, facts: RequestFacts
) -> tuple[Translation | None, UpstreamRequest]:
    """Start `translator` for one POST and apply its request rewrite; (translation or None, the request)."""
    req = UpstreamRequest("POST", path, query, [], orjson.dumps(body) if body is not None else b"")
    translation = translator.start(facts, req, body)
    if translation is not None:
        translation.request(req, body)
    return translation, req
