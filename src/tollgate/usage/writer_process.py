"""Usage rows written by a child process, so database work never competes with the event loop.

Measured on the data plane (docs/benchmarks.md): writing usage from a worker thread cost the gateway
15 us per request and 40 us per stream, most of it GIL hand-offs between the thread and the event
loop, not the INSERT itself. The child has its own interpreter and its own GIL; the parent only
serialises each batch (orjson, one call) and writes it to a pipe.

Wire format on the child's stdin: frames of a 4-byte big-endian length and an orjson array of
records (each an array in `UsageRecord` field order). The child exits at end of input, after
writing what it has. If it dies, the parent's next write starts a new one (the batch in hand is
kept by the recorder and retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from typing import BinaryIO

import orjson

from tollgate.usage.record import UsageRecord

logger = logging.getLogger(__name__)

#: The child reads its database URL here, not from argv: a URL may hold a password, argv is public.
DB_ENV = "TOLLGATE_USAGE_WRITER_DB"
_WRITE_RETRIES = 5
_CLOSE_TIMEOUT = 30.0


class UsageWriterProcess:
    """An async usage writer backed by one child process; owned by the node, closed with `aclose()`."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self._proc: asyncio.subprocess.Process | None = None

    async def _ensure_child(self) -> asyncio.subprocess.Process:
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None or proc.stdin.is_closing():
            env = {**os.environ, DB_ENV: self._db_url}
            proc = self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tollgate.usage.writer_process", stdin=asyncio.subprocess.PIPE, env=env
            )
        return proc

    async def write(self, records: list[UsageRecord]) -> None:
        """Hand one batch to the child; raises ConnectionError if the child is gone (retry later)."""
        proc = await self._ensure_child()
        assert proc.stdin is not None
        payload = orjson.dumps([tuple(record) for record in records])
        try:
            proc.stdin.write(len(payload).to_bytes(4, "big") + payload)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ConnectionError("usage writer process exited") from exc

    async def aclose(self) -> None:
        """Close the pipe and wait (bounded) for the child to write what it holds."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.close()
            await proc.stdin.wait_closed()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await proc.wait()
        except TimeoutError:
            logger.warning("usage writer did not finish in %.0f s; stopping it", _CLOSE_TIMEOUT)
            proc.kill()
            await proc.wait()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        part = stream.read(size - len(data))
        if not part:
            return None
        data += part
    return data


def main() -> None:
    """The child: read frames from stdin, insert each batch, retry a failing batch a few times."""
    from tollgate.store import Store

    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s usage-writer: %(message)s")
    url = os.environ.get(DB_ENV)
    if not url:
        sys.exit(f"{DB_ENV} is not set")
    store = Store.open(url)
    stdin = sys.stdin.buffer
    try:
        while (header := _read_exactly(stdin, 4)) is not None:
            payload = _read_exactly(stdin, int.from_bytes(header, "big"))
            if payload is None:
                break
            batch = [UsageRecord(*row) for row in orjson.loads(payload)]
            for attempt in range(1, _WRITE_RETRIES + 1):
                try:
                    store.insert_usage(batch)
                    break
                except Exception as exc:  # the driver's message may echo values: log the type only
                    if attempt == _WRITE_RETRIES:
                        logger.error("dropping %d usage records: %s", len(batch), type(exc).__name__)
                    else:
                        time.sleep(min(2.0**attempt, 10.0))
    finally:
        store.close()


if __name__ == "__main__":
    main()
