"""The multi-node harness: one control-plane process and two gateway processes on one PostgreSQL schema.

Every process is a real `python -m tollgate serve` sharing TOLLGATE_SECRET_KEY; the mock vendors are
the upstream. The schema is created fresh for the run and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ADMIN_TOKEN = "multinode-admin-token-0123456789"
V1 = "tollgate.dev/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeProcess:
    """One `tollgate serve` subprocess; its stderr goes to a file shown when something fails."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], workdir: Path, port: int) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.stderr_path = workdir / f"{name}.stderr.log"
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        for var in ("TOLLGATE_DB", "TOLLGATE_PORT", "TOLLGATE_ROLE", "TOLLGATE_ADMIN_PORT", "TOLLGATE_GATEWAY"):
            full_env.pop(var, None)
        self._stderr = self.stderr_path.open("wb")
        cmd = [sys.executable, "-m", "tollgate", "serve", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._stderr, env=full_env)

    def wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.stderr_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {self.port} within {timeout}s:\n{self.stderr_tail()}")

    def stderr_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no stderr)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._stderr.close()


def doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": V1, "kind": kind, "metadata": {"name": name}, "spec": spec}


def chat(model: str = "gpt-4o", text: str = "hello", stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    return body


def wait_until(predicate: Callable[[], bool], within: float, what: str) -> float:
    """Poll `predicate` until true; returns the seconds it took, fails the test past `within`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > within:
            raise AssertionError(f"{what}: not within {within}s")
        time.sleep(0.02)


def call_status(client: httpx.Client, url: str, key: str | None) -> int:
    headers = {"X-API-Key": key} if key else {}
    return client.post(url + "/v1/chat/completions", json=chat(), headers=headers).status_code
