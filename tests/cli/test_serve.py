"""`tollgate serve` on a busy port: one line naming the port, a non-zero exit, nothing stored or printed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tollgate.store import Store


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    (tmp_path / "c.yaml").write_text(
        "apiVersion: tollgate.dev/v1\nkind: LLMProvider\nmetadata: {name: openai}\n"
        "spec: {template: openai, context: /openai}\n---\n"
        "apiVersion: tollgate.dev/v1\nkind: APIKey\nmetadata: {name: k}\n"
        "spec: {target: {kind: LLMProvider, name: openai}}\n"
    )
    command = [sys.executable, "-m", "tollgate", "serve", "--db", f"sqlite:///{tmp_path / 'db' / 't.db'}"]
    command += ["--config", str(tmp_path / "c.yaml"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("plane", ["data plane", "management API"])
def test_a_busy_port_is_one_line_and_nothing_is_stored(tmp_path: Path, busy_port: int, plane: str) -> None:
    ports = ["--port", str(busy_port), "--admin-port", "0"]
    if plane == "management API":
        ports = ["--port", "0", "--admin-port", str(busy_port)]
    result = serve(tmp_path, *ports)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1:{busy_port} ({plane}, port {busy_port}): the port is already in use\n"
    )
    assert not (tmp_path / "db").exists()  # no database, no admin token, no generated API key


def test_serve_config_refuses_a_provider_whose_ca_bundle_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    missing = tmp_path / "private-ca.pem"
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: tollgate.dev/v1\nkind: LLMProvider\nmetadata: {name: private}\n"
        f"spec: {{template: openai, context: /private, caBundle: {missing}}}\n"
    )
    command = [sys.executable, "-m", "tollgate", "serve", "--db", f"sqlite:///{tmp_path / 't.db'}"]
    command += ["--config", str(tmp_path / "bad.yaml"), "--port", "0", "--admin-port", "0"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr == (f"Error: LLMProvider 'private': spec.caBundle: file '{missing}' does not exist\n")
    # nothing was stored: a later start with a good config is not blocked by it
    with Store.open(f"sqlite:///{tmp_path / 't.db'}") as store:
        assert store.list_resources() == []
