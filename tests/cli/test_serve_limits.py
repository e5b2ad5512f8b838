"""`tollgate serve` data-plane limits: the flags (and their env vars) reach the running server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _connect(port: int, timeout: float = 20.0) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_limit_flags_and_env_vars_reach_the_server(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "c.yaml").write_text(
        "apiVersion: tollgate.dev/v1\nkind: LLMProvider\nmetadata: {name: openai}\n"
        "spec: {template: openai, context: /openai}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env["TOLLGATE_HEADER_TIMEOUT"] = "0.5"
    command = [sys.executable, "-m", "tollgate", "serve", "--role", "gateway", "--port", str(port)]
    command += ["--db", f"sqlite:///{tmp_path / 't.db'}", "--config", str(tmp_path / "c.yaml")]
    command += ["--max-header-bytes", "2048", "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env)
    try:
        with _connect(port) as sock:
            sock.sendall(b"GET /openai/v1/models HTTP/1.1\r\nhost: x\r\nx-pad: " + b"p" * 3000 + b"\r\n\r\n")
            assert _read_all(sock).startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        with _connect(port) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /openai/v1/models HTTP/1.1\r\n")  # and nothing more
            assert _read_all(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            assert 0.4 < time.monotonic() - started < 3.0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
