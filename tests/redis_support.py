"""Redis for the tests: the shared server (127.0.0.1:6379 unless TOLLGATE_TEST_REDIS_URL) and servers
of a test's own that it may stop.

Without a Redis (a fresh machine), the tests that need one skip and say why, as the PostgreSQL ones
do; under CI (`CI` set), where the machine runs Redis, a missing server fails them instead, so a
broken CI machine cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

SHARED_REDIS_URL = os.environ.get("TOLLGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI requires it)")
    pytest.skip(f"{reason}: see README, 'Several nodes' (apt-get install redis-server)")


def require_shared_redis() -> str:
    """The shared Redis URL, or skip (fail under CI) when nothing answers there."""
    parts = urlsplit(SHARED_REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1.0):
            pass
    except OSError:
        _missing(f"no Redis answers at {SHARED_REDIS_URL}")
    return SHARED_REDIS_URL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnRedis:
    """A redis-server of the test's own on a free port, which the test may stop (never the shared one)."""

    def __init__(self, tmp: str | Path) -> None:
        if shutil.which("redis-server") is None:
            _missing("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)]
        self.proc = subprocess.Popen(
            ["redis-server", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
