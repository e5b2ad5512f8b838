"""The access log: one line per request (JSON or plain), written by the usage writer child process.

Lines are made from usage records, in the process that already receives every record in batches,
so the gateway's event loop does no logging work at all. A record holds no key, credential or body
(the key by id only, the path without its query string), so neither does a line.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TextIO

import orjson

from tollgate.usage.record import UsageRecord

logger = logging.getLogger(__name__)

#: Where lines go: unset or "off" (none), "stderr", or a file path (appended to).
ACCESS_LOG_ENV = "TOLLGATE_ACCESS_LOG"
#: "json" (default: one object per line) or "plain" (space-separated key=value, for people).
ACCESS_LOG_FORMAT_ENV = "TOLLGATE_ACCESS_LOG_FORMAT"


@lru_cache(maxsize=256)
def _second(second: int) -> str:
    """`2026-11-02T00:01:00` for a unix second: made once per second, as a batch's records share a few."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _time(ts: float) -> str:
    """ISO 8601 UTC with milliseconds, as `datetime.isoformat(timespec="milliseconds")` writes it (the
    time rounded to microseconds, then cut to milliseconds), at a tenth of its cost."""
    fraction, second = math.modf(ts)  # rounded as datetime.fromtimestamp rounds (half to even)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    return f"{_second(int(second))}.{micros // 1000:03d}Z"


def json_line(r: UsageRecord) -> bytes:
    """The record as one JSON object (a fixed set of fields, in a fixed order; `cache` and
    `saved_tokens` only on routes with a response cache)."""
    line: dict[str, object] = {
        "time": _time(r.ts),
        "request_id": r.request_id,
        "gateway": r.gateway,
        "provider": r.provider,
        "proxy": r.proxy,
        "key_id": r.key_id,
        "method": r.method,
        "path": r.path,
        "request_model": r.request_model,
        "response_model": r.response_model,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.total_tokens,
        "status": r.status,
        "latency_ms": round(r.latency_ms, 3),
        "ttfb_ms": None if r.ttfb_ms is None else round(r.ttfb_ms, 3),
        "stream": r.is_streaming,
        "error": r.error_code,
    }
    if r.cache_result is not None:
        line["cache"] = r.cache_result
        line["saved_tokens"] = r.saved_tokens
    return orjson.dumps(line)


def plain_line(r: UsageRecord) -> bytes:
    """The record for people: time, id, route, key, request line, model, status, tokens, timings."""

    def value(v: object) -> str:
        return "-" if v is None else str(v)

    route = r.provider if r.proxy is None else f"{r.provider}/{r.proxy}"
    tokens = f"{value(r.prompt_tokens)}/{value(r.completion_tokens)}/{value(r.total_tokens)}"
    ttfb = "-" if r.ttfb_ms is None else f"{r.ttfb_ms:.1f}"
    parts = [
        _time(r.ts),
        r.request_id,
        r.gateway,
        route,
        f"key={value(r.key_id)}",
        r.method,
        r.path,
        f"model={value(r.response_model or r.request_model)}",
        f"status={r.status}",
        f"tokens={tokens}",
        f"latency_ms={r.latency_ms:.1f}",
        f"ttfb_ms={ttfb}",
        f"stream={int(r.is_streaming)}",
        f"error={value(r.error_code)}",
    ]
    if r.cache_result is not None:
        parts.append(f"cache={r.cache_result}")
    return " ".join(parts).encode()


class AccessLog:
    """Writes a batch of records as lines, one write per batch; one per writer process."""

    def __init__(self, stream: TextIO | None, fmt: str = "json") -> None:
        self._stream = stream
        self._line = plain_line if fmt == "plain" else json_line
        self._failing = False

    @classmethod
    def from_env(cls) -> AccessLog:
        """From TOLLGATE_ACCESS_LOG and TOLLGATE_ACCESS_LOG_FORMAT; a file that cannot be opened is
        logged and means no access log (the writer must keep storing usage whatever happens here)."""
        target = (os.environ.get(ACCESS_LOG_ENV) or "").strip()
        fmt = (os.environ.get(ACCESS_LOG_FORMAT_ENV) or "json").strip().lower()
        if fmt not in ("json", "plain"):
            logger.error("%s=%r: use json or plain; writing json", ACCESS_LOG_FORMAT_ENV, fmt)
            fmt = "json"
        if target in ("", "off"):
            return cls(None, fmt)
        if target == "stderr":
            return cls(sys.stderr, fmt)
        try:
            return cls(open(target, "a", encoding="utf-8", buffering=1 << 16), fmt)  # open for the process
        except OSError as exc:
            logger.error("access log %s cannot be opened (%s): no access log", target, type(exc).__name__)
            return cls(None, fmt)

    @property
    def enabled(self) -> bool:
        return self._stream is not None

    def write(self, records: Sequence[UsageRecord]) -> None:
        """One line per record, then one flush; a failing write is reported once and skipped."""
        stream = self._stream
        if stream is None or not records:
            return
        text = b"\n".join(self._line(r) for r in records).decode() + "\n"
        try:
            stream.write(text)
            stream.flush()
        except OSError as exc:
            if not self._failing:
                logger.error("access log write failed (%s); lines are skipped until it works", type(exc).__name__)
            self._failing = True
        else:
            self._failing = False
