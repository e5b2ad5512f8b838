"""The SDK matrix with the previous major of each SDK: a CI guarantee that users who have not upgraded
keep working through the gateway (issue #10 §5).

Two more SDK environments, made by `scripts/bootstrap test` from requirements/ (exact pins):
  * `.venv-sdkprev` (sdk-previous.txt): openai 2, anthropic 1, google-genai 2, mistralai 2 and
    langchain-google-genai 3 (gRPC by default: run with `transport="rest"`, as the guide says);
  * `.venv-lcprev` (langchain-previous.txt): the LangChain 0.3 line (langchain-openai 0.3,
    langchain-anthropic 0.3, langchain-google-genai 2), which cannot share an environment with
    langchain-google-genai 3 (langchain-core < 1 against >= 1.1).
Each environment runs `sdk_worker.py`, which executes the very setups of e2e_clients.py with its own
SDKs against this session's gateway; every run gets the checks of the current matrix (exact text,
chunks, upstream credential and usage row). Without the environments the module skips, saying so,
and fails under CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_clients import Result, Setup, setups
from e2e_harness import AZURE_DEPLOYMENT, E2E, FOUNDRY_DEPLOYMENT, timed, wait_usage
from matrix_checks import check_matrix_run, upstream_request

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("sdk_worker.py")
#: one call of a client may take this long before the worker is declared stuck
CALL_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Environment:
    name: str  # the venv directory below the repository root
    requirements: str  # below requirements/
    setups: tuple[str, ...]  # the matrix setups it runs

    def pins(self) -> dict[str, str]:
        """`name==version` lines of its requirements file."""
        out = {}
        for line in (ROOT / "requirements" / self.requirements).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, pinned = line.partition("==")
                assert pinned, f"{self.requirements}: {line!r} is not pinned exactly"
                out[name.strip()] = pinned.strip()
        return out


ENVIRONMENTS = (
    Environment(
        ".venv-sdkprev",
        "sdk-previous.txt",
        (
            "openai-OpenAI",
            "anthropic-Anthropic",
            "gemini-genai",
            "gemini-ChatGoogleGenerativeAI",
            "mistral-Mistral",
            "mistral-OpenAI",
            "azure-AzureOpenAI",
            "foundry-AzureOpenAI",
        ),
    ),
    Environment(
        ".venv-lcprev",
        "langchain-previous.txt",
        (
            "openai-ChatOpenAI",
            "anthropic-ChatAnthropic",
            "gemini-ChatGoogleGenerativeAI",
            "mistral-ChatOpenAI",
            "azure-AzureChatOpenAI",
            "foundry-AzureChatOpenAI",
        ),
    ),
)
SETUPS = {s.id: s for s in setups(AZURE_DEPLOYMENT, FOUNDRY_DEPLOYMENT)}


class Worker:
    """One `sdk_worker.py` process in an SDK environment; calls are sent one at a time. A call that
    hangs or kills it gets a fresh process, so a late answer is never read as the next call's."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.proc = self._spawn()
        self.versions: dict[str, str | None] = json.loads(self._line())

    def _spawn(self) -> subprocess.Popen[str]:
        python = ROOT / self.env.name / "bin" / "python"
        return subprocess.Popen(
            [str(python), str(WORKER), AZURE_DEPLOYMENT, FOUNDRY_DEPLOYMENT, *self.env.pins()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=WORKER.parent,
        )

    def _line(self) -> str:
        """The worker's next line; a worker that is silent for CALL_TIMEOUT_S or gone is ended."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], CALL_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            return line
        failure = f"answered nothing in {CALL_TIMEOUT_S} s" if not ready else f"exited with {self.proc.poll()}"
        self.close()
        raise AssertionError(f"the SDK worker in {self.env.name} {failure}")

    def call(self, setup: str, mode: str, url: str, key: str, prompt: str) -> Result:
        if self.proc.poll() is not None:  # ended after a failed call: a fresh one
            self.proc = self._spawn()
            self._line()
        assert self.proc.stdin is not None
        request = {"setup": setup, "mode": mode, "url": url, "key": key, "prompt": prompt}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self._line())
        if "error" in answer:
            raise AssertionError(f"{setup} {mode} raised in the previous-majors environment: {answer['error']}")
        return Result(**answer)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def workers() -> Iterator[dict[str, Worker]]:
    missing = [env.name for env in ENVIRONMENTS if not (ROOT / env.name / "bin" / "python").exists()]
    if missing:
        reason = f"previous-majors SDK environments {missing} are missing: run scripts/bootstrap test"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI requires them)")
        pytest.skip(reason)
    started: dict[str, Worker] = {}
    try:
        for env in ENVIRONMENTS:
            started[env.name] = Worker(env)
        yield started
    finally:
        for worker in started.values():
            worker.close()


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=[e.name for e in ENVIRONMENTS])
def test_environment_has_exactly_the_pinned_versions(workers: dict[str, Worker], env: Environment) -> None:
    assert workers[env.name].versions == env.pins()


def _params() -> list[Any]:
    out = []
    for env in ENVIRONMENTS:
        for setup_id in env.setups:
            for mode in ("basic", "stream"):
                for via in ("provider", "proxy"):
                    out.append(pytest.param(env, SETUPS[setup_id], mode, via, id=f"{env.name}-{setup_id}-{mode}-{via}"))
    return out


@pytest.mark.parametrize(("env", "setup", "mode", "via"), _params())
def test_previous_matrix(
    e2e: E2E, workers: dict[str, Worker], env: Environment, setup: Setup, mode: str, via: str
) -> None:
    worker = workers[env.name]
    check_matrix_run(e2e, setup, mode, via, lambda url, key, prompt: worker.call(setup.id, mode, url, key, prompt))


def test_langchain_gemini_rest_stream_sent_whole_is_metered(e2e: E2E, workers: dict[str, Worker]) -> None:
    """langchain-google-genai 3.x over REST streams without `alt=sse`: Google answers one JSON array,
    here with a Content-Length (as through a buffering proxy). The client gets every piece and the
    usage row has the tokens of the array's last element."""
    nonce = "ref" + secrets.token_hex(4)
    prompt = f"Count from 1 to 5. {nonce} [mock:unchunked]"
    route = "gemini-app"
    with timed() as window:
        result = workers[".venv-sdkprev"].call(
            "gemini-ChatGoogleGenerativeAI", "stream", e2e.invoke_url(route), e2e.key(route), prompt
        )
    assert result.text == "1 2 3 4 5"
    upstream = upstream_request(e2e, "gemini", nonce)
    assert upstream["vendor_path"] == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert "alt=sse" not in upstream["query"]
    rows = wait_usage(e2e.db_path, window[0], window[1], provider="gemini", proxy=route)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["status"] == 200 and row["error_code"] is None and row["is_streaming"]
    # 7 prompt words (the nonce and the directive count too), 5 answer words
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (7, 5, 12)
