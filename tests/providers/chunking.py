"""Chunkings of a recorded stream: whole, byte by byte, and seeded random splits."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

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
