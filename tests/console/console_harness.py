"""A real `tollgate serve` (gateway and control plane in one process) on SQLite, over the mock vendors,
with users of each role the console tests sign in as; and the runner of a snippet copied from a page."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PASSWORD = "correct horse battery staple"
#: user name -> role; each signs in with PASSWORD.
USERS = {"alice": "admin", "vic": "viewer"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment for the snippets: loopback only, no vendor variables that would redirect an SDK."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_VERSION"):
        env.pop(name, None)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


class TollgateProcess:
    """`python -m tollgate serve` with both planes; the admin token (env) creates the users, then is unused."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.admin_port = free_port()
        self.admin_token = secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.console_url = self.admin_url + "/console"
        self.log_path = workdir / "tollgate.log"
        env = {**clean_env(), "TOLLGATE_ADMIN_TOKEN": self.admin_token, "PYTHONUNBUFFERED": "1"}
        for var in ("TOLLGATE_DB", "TOLLGATE_PORT", "TOLLGATE_ROLE", "TOLLGATE_ADMIN_PORT", "TOLLGATE_GATEWAY"):
            env.pop(var, None)
        cmd = [sys.executable, "-m", "tollgate", "serve", "--db", f"sqlite:///{workdir / 'tg.db'}"]
        cmd += ["--port", str(self.port), "--admin-port", str(self.admin_port)]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tollgate exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.admin_url + "/_tollgate/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"tollgate was not ready within {timeout}s:\n{self.log_tail()}")

    def api(self) -> httpx.Client:
        """A management API client with the admin token (test set-up and checks only, never the flows)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.admin_url + "/api/v1", headers=headers, timeout=30)

    def create_users(self) -> None:
        with self.api() as api:
            for name, role in USERS.items():
                answer = api.post("/users", json={"name": name, "role": role, "password": PASSWORD})
                answer.raise_for_status()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def run_snippet(code: str, directory: Path, name: str) -> subprocess.CompletedProcess[str]:
    """Run a snippet exactly as copied from the page, with the interpreter that has the vendor SDKs."""
    script = directory / f"{name}.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=clean_env(), cwd=directory
    )
