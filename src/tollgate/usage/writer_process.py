"""Usage rows written by a child process, so database work never competes with the event loop.

Measured on the data plane (docs/benchmarks.md): writing usage from a worker thread cost the gateway
15 us per request and 40 us per stream, most of it GIL hand-offs between the thread and the event
loop, not the INSERT itself. The child has its own interpreter and its own GIL; the parent only
serialises each batch (orjson, one call) and writes it to a pipe.

Wire format. Parent to child, on the child's stdin: frames of a 4-byte big-endian length and an
orjson array of records (each an array in `UsageRecord` field order). Child to parent, on a pipe
that was the child's stdout (the child points its own stdout at stderr, so nothing else can write
there): one 5-byte acknowledgement per frame, in order: `S` + 4-byte count when the batch is
committed, `L` + count when the child gave up on it after `_WRITE_RETRIES` attempts. `write()`
returns only once its batch is acknowledged, so the recorder's `written` counts stored rows. If
the child dies holding a batch, `write()` raises `UsageWriterGoneError` and the recorder sends it
again (to a new child, started on the next write). The child exits at end of input, after writing
what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, BinaryIO

import orjson

from tollgate.usage.access_log import AccessLog
from tollgate.usage.record import UsageRecord
from tollgate.usage.recorder import UsageBatchLostError, UsageWriterGoneError
from tollgate.usage.retention import UsageRetention
from tollgate.usage.traces import SpanExport

if TYPE_CHECKING:
    from tollgate.usage.metrics import UsageMetrics

logger = logging.getLogger(__name__)

#: Env var naming the directory the child keeps its metric files in (set by the node).
METRICS_DIR_ENV = "TOLLGATE_METRICS_DIR"

#: The child reads its database URL here, not from argv: a URL may hold a password, argv is public.
DB_ENV = "TOLLGATE_USAGE_WRITER_DB"
#: First pause (seconds) between two attempts at a failing batch; it doubles, up to 10 s.
RETRY_DELAY_ENV = "TOLLGATE_USAGE_WRITER_RETRY_DELAY"
ACK = struct.Struct(">cI")
ACK_STORED = b"S"
ACK_LOST = b"L"
_WRITE_RETRIES = 5
_CLOSE_TIMEOUT = 30.0


class UsageWriterProcess:
    """An async usage writer backed by one child process; owned by the node, closed with `aclose()`.

    One `write()` at a time (the recorder serialises them): each waits for its own acknowledgement.
    """

    def __init__(self, db_url: str, env: Mapping[str, str] | None = None) -> None:
        self._db_url = db_url
        self._env = dict(env or {})  # more environment for the child (e.g. its metrics directory)
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the child now (it imports the store while the node starts); `write` restarts it if it dies."""
        await self._ensure_child()

    async def _ensure_child(self) -> asyncio.subprocess.Process:
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None or proc.stdin.is_closing():
            env = {**os.environ, **self._env, DB_ENV: self._db_url}
            proc = self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tollgate.usage.writer_process",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
        return proc

    async def write(self, records: list[UsageRecord]) -> int:
        """Hand one batch to the child and wait until it is stored; returns the count stored.

        Raises `UsageWriterGoneError` if the child exited before acknowledging (send again), and
        `UsageBatchLostError` if it gave up on the batch.
        """
        proc = await self._ensure_child()
        assert proc.stdin is not None and proc.stdout is not None
        payload = orjson.dumps([tuple(record) for record in records], default=_as_array)
        try:
            proc.stdin.write(len(payload).to_bytes(4, "big") + payload)
            await proc.stdin.drain()
            ack = await proc.stdout.readexactly(ACK.size)
        except (BrokenPipeError, ConnectionResetError, asyncio.IncompleteReadError) as exc:
            self._abandon(proc)  # the next write starts a new child
            raise UsageWriterGoneError("the usage writer process exited") from exc
        except asyncio.CancelledError:
            self._abandon(proc)  # its acknowledgement would arrive out of step with the next batch
            raise
        status, count = ACK.unpack(ack)
        if status == ACK_LOST:
            raise UsageBatchLostError(count, f"the usage writer gave up after {_WRITE_RETRIES} attempts")
        return int(count)

    def _abandon(self, proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        self._proc = None

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


def _as_array(value: object) -> list[object]:
    """orjson's fallback for what it does not write itself: a record's `SpanFacts` (a NamedTuple)."""
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} to the usage writer")


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        part = stream.read(size - len(data))
        if not part:
            return None
        data += part
    return data


def _insert_with_retries(insert: Callable[[list[UsageRecord]], None], batch: list[UsageRecord], delay: float) -> bool:
    """Insert one batch (one transaction), retrying with back-off; False once it gave up."""
    for attempt in range(1, _WRITE_RETRIES + 1):
        try:
            insert(batch)
            return True
        except Exception as exc:  # the driver's message may echo values: log the type only
            if attempt == _WRITE_RETRIES:
                logger.error("giving up on %d usage records: %s", len(batch), type(exc).__name__)
            else:
                time.sleep(min(delay * 2.0 ** (attempt - 1), 10.0))
    return False


def _metrics() -> UsageMetrics | None:
    """The traffic metrics, in prometheus_client's multiprocess mode under the node's directory, if it gave one."""
    directory = os.environ.get(METRICS_DIR_ENV)
    if not directory:
        return None
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # read by prometheus_client when it is imported
    from tollgate.usage.metrics import UsageMetrics

    return UsageMetrics()


def _export_spans(spans: SpanExport, batch: list[UsageRecord]) -> None:
    """Spans never cost the usage rows: a failure here is logged (its type) and the batch's spans dropped."""
    try:
        spans.export(batch)
    except Exception as exc:
        logger.error("could not make the spans of %d usage records: %s", len(batch), type(exc).__name__)


def main() -> None:
    """The child: read frames from stdin, insert each batch, acknowledge each one on the ack pipe."""
    from tollgate.store import Store

    acks = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything printed from here on goes to stderr, never into the acknowledgements
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s usage-writer: %(message)s")
    url = os.environ.get(DB_ENV)
    if not url:
        sys.exit(f"{DB_ENV} is not set")
    delay = float(os.environ.get(RETRY_DELAY_ENV) or 2.0)
    store = Store.open(url)
    retention = UsageRetention.from_env()  # raw records older than TOLLGATE_USAGE_RETENTION, pruned between batches
    access_log = AccessLog.from_env()  # one line per request (TOLLGATE_ACCESS_LOG), here, off the gateway's loop
    metrics = _metrics()
    spans = SpanExport.from_env()  # OTLP spans of traced requests (TOLLGATE_TRACES=otlp), exported by a thread
    stdin = sys.stdin.buffer
    try:
        while (header := _read_exactly(stdin, 4)) is not None:
            payload = _read_exactly(stdin, int.from_bytes(header, "big"))
            if payload is None:
                break
            batch = [UsageRecord(*row) for row in orjson.loads(payload)]
            stored = _insert_with_retries(store.insert_usage, batch, delay)
            with contextlib.suppress(BrokenPipeError):
                acks.write(ACK.pack(ACK_STORED if stored else ACK_LOST, len(batch)))
            access_log.write(batch)
            if metrics is not None:
                metrics.observe(batch)
            if spans is not None:
                _export_spans(spans, batch)
            retention.tick(store)
    finally:
        if spans is not None:
            spans.shutdown()
        store.close()


if __name__ == "__main__":
    main()
