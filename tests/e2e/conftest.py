"""Session fixtures of the end-to-end suite: the mock vendors (in-process `MockServer`) and ONE real
gateway process (`python -m tollgate serve --role gateway`) configured from YAML written to a tmp dir.

Routes (see `e2e_harness.build_topology`):
  * `/openai /anthropic /gemini /mistral /azure /foundry`: one provider per vendor mock;
  * `/app/<provider>`: an LLMProxy on each of them (`<provider>-app`);
  * `/openai-query`: key in the `api_key` query parameter;
  * `/r/<family>`: model allow-list and a small maxRequestBytes;
  * `/down/<family>`: upstream on a closed port; `/slow/<family>`: 1 s first-byte timeout.
Every provider and proxy has a key (`valueFromEnv`), plus an expired key and revocable keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from e2e_harness import E2E, RUNNING, GatewayProcess, build_topology, key_env, write_config

from tollgate.mock import MockServer

# Loopback only: no proxy from the environment may sit between the SDKs and the gateway.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
for _var in (
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_PROJECT",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture(scope="session")
def e2e(mock_server: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    workdir = tmp_path_factory.mktemp("tollgate-e2e")
    topo = build_topology(mock_server.base_url, mock_server.keys)
    config_dir = workdir / "config"
    write_config(topo, config_dir)
    gateway = GatewayProcess(config_dir, workdir / "tg.db", key_env(topo))
    try:
        gateway.wait_ready()
    except Exception:
        gateway.stop()
        raise
    try:
        yield E2E(mock_server, gateway, topo, workdir)
    finally:
        gateway.stop()


@pytest.fixture(autouse=True)
def _mock_config_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that configure the mock globally must not leak it into the next test."""
    yield
    if "mock_server" in request.fixturenames or "e2e" in request.fixturenames:
        server: MockServer = request.getfixturevalue("mock_server")
        server.state.reset_config()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, attach the tail of every gateway's stderr (and whether it is still alive)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and RUNNING:
        for gateway in RUNNING:
            state = "running" if gateway.alive() else f"exited with {gateway.proc.returncode}"
            report.sections.append((f"gateway {gateway.url} ({state}) stderr tail", gateway.stderr_tail(40)))
