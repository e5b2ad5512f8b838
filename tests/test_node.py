"""The node's graceful shutdown: SIGTERM stops accepting but lets a stream in flight finish."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tollgate.mock.server import MockServer
from tollgate.resources.keys import generate_key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("gateway did not start")


def test_sigterm_lets_a_stream_in_flight_finish(tmp_path: Path) -> None:
    key = generate_key().value
    port = _free_port()
    with MockServer() as mock:
        (tmp_path / "c.yaml").write_text(
            "apiVersion: tollgate.dev/v1\nkind: Secret\nmetadata: {name: s}\n"
            f"spec: {{value: {mock.keys['openai']}}}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: LLMProvider\nmetadata: {name: openai}\n"
            f'spec: {{template: openai, context: /openai, upstreamUrl: "{mock.url("openai")}", '
            "credential: {secret: s}}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: APIKey\nmetadata: {name: k}\n"
            "spec: {target: {kind: LLMProvider, name: openai}, valueFromEnv: TG_TEST_KEY}\n"
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tollgate",
                "serve",
                "--role",
                "gateway",
                "--config",
                str(tmp_path / "c.yaml"),
                "--db",
                f"sqlite:///{tmp_path / 't.db'}",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env={**os.environ, "TG_TEST_KEY": key},
        )
        try:
            _wait_listening(port)
            body = {
                "model": "gpt-4o",
                "stream": True,
                "messages": [{"role": "user", "content": "Count from 1 to 5. [mock:chunk-delay=300]"}],
            }
            url = f"http://127.0.0.1:{port}/openai/v1/chat/completions"
            pieces = []
            with httpx.stream("POST", url, json=body, headers={"X-API-Key": key}, timeout=20) as response:
                for i, piece in enumerate(response.iter_text()):
                    pieces.append(piece)
                    if i == 1:
                        proc.send_signal(signal.SIGTERM)
            assert "data: [DONE]" in "".join(pieces)  # the stream in flight finished
            with pytest.raises(httpx.ConnectError):  # while nothing new is accepted
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
