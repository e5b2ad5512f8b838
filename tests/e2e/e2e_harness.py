"""The end-to-end harness: resource YAML for the mock vendors, a real `tollgate serve` subprocess,
and readers for what the gateway recorded (usage rows in its SQLite store).

Everything is loopback. One gateway process serves the whole session (`conftest.py`); a second one
with TLS is started only by the HTTPS test.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tollgate.mock import MockServer
from tollgate.resources.keys import generate_key

#: Azure / Foundry deployment names the tests use (the mock reports the deployment as the model).
AZURE_DEPLOYMENT = "gpt4o-deploy"
FOUNDRY_DEPLOYMENT = "gpt-4o"

#: provider name -> (template, mock vendor). The proxy of provider `x` is `x-app` at `/app/x`.
MATRIX_PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("openai", "openai"),
    "anthropic": ("anthropic", "anthropic"),
    "gemini": ("gemini", "gemini"),
    "mistral": ("mistral", "mistral"),
    "azure": ("azure-openai", "azure"),
    "foundry": ("azure-ai-foundry", "foundry"),
}
#: SDK families used by the error tests: provider name -> model the family asks for by default.
FAMILY_MODELS: dict[str, str] = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
}
#: allowed model on the restricted `r-<family>` providers (anything else: 400)
ALLOWED_MODELS: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.0-flash",
    "mistral": "mistral-medium-latest",
}
RESTRICTED_MAX_BYTES = 1500
FIRST_BYTE_TIMEOUT_S = 1.0
#: extra keys: name -> (target kind, target name, expiresAt or None)
EXTRA_KEYS: dict[str, tuple[str, str, str | None]] = {
    **{f"{family}-expired": ("LLMProvider", family, "2001-01-01T00:00:00Z") for family in FAMILY_MODELS},
    **{f"{family}-revoke": ("LLMProvider", family, None) for family in FAMILY_MODELS},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    return free_port()


def env_name(key_name: str) -> str:
    return "TG_E2E_KEY_" + key_name.upper().replace("-", "_")


def key_id(value: str) -> str:
    """The public id of a `tg_<id>_<secret>` key."""
    return value[3:15]


def _doc(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


@dataclass
class Topology:
    """What the resource YAML declares: routes (name -> context) and key values (key name -> value)."""

    mock_url: str
    contexts: dict[str, str] = field(default_factory=dict)
    route_kind: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    docs: list[dict[str, Any]] = field(default_factory=list)

    def key_for(self, route: str) -> str:
        return self.keys[route]


def build_topology(mock_url: str, mock_keys: dict[str, str]) -> Topology:
    """Secrets, providers, proxies and keys for the whole suite (see the module docstring of conftest)."""
    topo = Topology(mock_url)
    docs = topo.docs
    for vendor, value in mock_keys.items():
        docs.append(_doc("Secret", f"{vendor}-upstream", {"value": value}))

    def provider(
        name: str, template: str, vendor: str, context: str, upstream: str | None = None, **extra: Any
    ) -> None:
        spec = {
            "template": template,
            "context": context,
            "upstreamUrl": upstream or f"{mock_url}/{vendor}",
            "credential": {"secret": f"{vendor}-upstream"},
            **extra,
        }
        docs.append(_doc("LLMProvider", name, spec))
        topo.contexts[name] = context
        topo.route_kind[name] = "LLMProvider"

    def proxy(name: str, provider_name: str, context: str) -> None:
        docs.append(_doc("LLMProxy", name, {"provider": provider_name, "context": context}))
        topo.contexts[name] = context
        topo.route_kind[name] = "LLMProxy"

    for name, (template, vendor) in MATRIX_PROVIDERS.items():
        provider(name, template, vendor, f"/{name}")
        proxy(f"{name}-app", name, f"/app/{name}")
    provider("openai-query", "openai", "openai", "/openai-query", security={"location": "query", "name": "api_key"})
    down = closed_port()
    for family in FAMILY_MODELS:
        template, vendor = MATRIX_PROVIDERS[family]
        provider(
            f"r-{family}",
            template,
            vendor,
            f"/r/{family}",
            models=[ALLOWED_MODELS[family]],
            maxRequestBytes=RESTRICTED_MAX_BYTES,
        )
        provider(
            f"down-{family}",
            template,
            vendor,
            f"/down/{family}",
            upstream=f"http://127.0.0.1:{down}/{vendor}",
            timeouts={"connect": 2.0},
        )
        provider(f"slow-{family}", template, vendor, f"/slow/{family}", timeouts={"firstByte": FIRST_BYTE_TIMEOUT_S})
    for route, kind in topo.route_kind.items():
        value = generate_key().value
        topo.keys[route] = value
        docs.append(
            _doc("APIKey", f"k-{route}", {"target": {"kind": kind, "name": route}, "valueFromEnv": env_name(route)})
        )
    for name, (kind, target, expires) in EXTRA_KEYS.items():
        value = generate_key().value
        topo.keys[name] = value
        spec: dict[str, Any] = {"target": {"kind": kind, "name": target}, "valueFromEnv": env_name(name)}
        if expires is not None:
            spec["expiresAt"] = expires
        docs.append(_doc("APIKey", f"k-{name}", spec))
    return topo


def write_config(topo: Topology, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "resources.yaml").write_text(yaml.safe_dump_all(topo.docs, sort_keys=False))


def key_env(topo: Topology) -> dict[str, str]:
    return {env_name(name): value for name, value in topo.keys.items()}


#: every gateway process started this session (conftest shows their stderr when a test fails)
RUNNING: list[GatewayProcess] = []


#: A directory holding the hot path compiled by mypyc (`scripts/compile --into DIR`): the gateway
#: processes of the end-to-end suite run it, so the SDK matrix covers the compiled build while the
#: in-process tests cover the plain Python one. Unset: every test runs plain Python.
COMPILED_BUILD = os.environ.get("TOLLGATE_TEST_COMPILED", "")


def compiled_module_file(module: str) -> str:
    """Where the gateway processes import `module` from (a .so when the compiled build is in use)."""
    env = {**os.environ}
    if COMPILED_BUILD:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (COMPILED_BUILD, os.environ.get("PYTHONPATH"))))
    code = f"import {module} as m; print(m.__file__)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


class GatewayProcess:
    """A `python -m tollgate serve --role gateway` subprocess; stderr goes to a file shown on failure."""

    def __init__(
        self,
        config_dir: Path,
        db_path: Path,
        env: dict[str, str],
        *,
        tls: tuple[Path, Path] | None = None,
        log_name: str = "gateway",
    ) -> None:
        self.port = free_port()
        self.db_path = db_path
        self.stderr_path = db_path.parent / f"{log_name}.stderr.log"
        self.stdout_path = db_path.parent / f"{log_name}.stdout.log"
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "tollgate",
            "serve",
            "--role",
            "gateway",
            "--config",
            str(config_dir),
            "--db",
            f"sqlite:///{db_path}",
            "--port",
            str(self.port),
        ]
        if tls:
            cmd += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        if COMPILED_BUILD:  # the mypyc build of the hot path (scripts/test makes it): what production runs
            full_env["PYTHONPATH"] = os.pathsep.join(filter(None, (COMPILED_BUILD, os.environ.get("PYTHONPATH"))))
        for var in ("TOLLGATE_DB", "TOLLGATE_PORT", "TOLLGATE_ROLE", "TOLLGATE_TLS_CERT", "TOLLGATE_TLS_KEY"):
            full_env.pop(var, None)
        self._stderr = self.stderr_path.open("wb")
        self._stdout = self.stdout_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._stdout, stderr=self._stderr, env=full_env)
        RUNNING.append(self)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.proc.returncode}:\n{self.stderr_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the gateway did not listen on port {self.port} within {timeout}s:\n{self.stderr_tail()}")

    def stderr_tail(self, lines: int = 60) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return "(no stderr)"
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._stderr.close()
        self._stdout.close()


class E2E:
    """What a test needs: the gateway URL, routes and keys, the mock, the gateway process."""

    def __init__(self, mock: MockServer, gateway: GatewayProcess, topo: Topology, workdir: Path) -> None:
        self.mock = mock
        self.gateway = gateway
        self.topo = topo
        self.workdir = workdir

    @property
    def url(self) -> str:
        return self.gateway.url

    def invoke_url(self, route: str) -> str:
        return self.gateway.url + self.topo.contexts[route]

    def key(self, name: str) -> str:
        return self.topo.keys[name]

    @property
    def db_path(self) -> Path:
        return self.gateway.db_path


# --- usage records ------------------------------------------------------------------------------


def usage_rows(db_path: Path, since: float, until: float | None = None) -> list[dict[str, Any]]:
    """Usage rows with `ts` in [since, until], oldest first (read-only SQLite connection)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute(
                "SELECT * FROM usage WHERE ts >= ? AND ts <= ? ORDER BY ts, id", (since, until or 1e12)
            ).fetchall()
        except sqlite3.OperationalError:
            return []
        return [dict(r) for r in rows]
    finally:
        conn.close()


def wait_usage(
    db_path: Path,
    since: float,
    until: float,
    *,
    provider: str,
    proxy: str | None,
    request_id: str | None = None,
    timeout: float = 15.0,
) -> list[dict[str, Any]]:
    """Poll until the recorder has flushed a usage row of this route in the time window (on a loaded
    host the first rows after the gateway started have taken more than 5 s; success returns at once).

    Returns every matching row (a test then asserts there is exactly one). With `request_id`, only
    that request's row.
    """
    deadline = time.monotonic() + timeout
    while True:
        rows = [
            r
            for r in usage_rows(db_path, since - 0.05, until + 0.05)
            if r["provider"] == provider
            and r["proxy"] == proxy
            and (request_id is None or r["request_id"] == request_id)
        ]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """`with timed() as window:` -> window == [start, end] in unix time."""
    window = [time.time()]
    try:
        yield window
    finally:
        window.append(time.time())
