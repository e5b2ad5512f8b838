"""The client guide's own snippets (../shared/client-guide.txt), run as written against the gateway.

Each basic snippet and the streaming snippet after it form one script, run in a subprocess with only
INVOKE_URL, API_KEY and the deployment name filled in. One documented fix is applied where the
snippet cannot work with the current SDK for reasons outside the gateway (sdk-contract.md §6.2):
`from mistralai import Mistral` -> `from mistralai.client import Mistral` (mistralai >= 2 made
`mistralai` a namespace package). All scripts are started at once and awaited per test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_harness import AZURE_DEPLOYMENT, E2E, FOUNDRY_DEPLOYMENT

GUIDE = Path(__file__).resolve().parents[2] / ".." / "shared" / "client-guide.txt"
SCRIPT_TIMEOUT_S = 90
SEPARATOR = "\n=====STREAM=====\n"
_MARKER = re.compile(r"^(Basic [A-Za-z ]+|Streaming):$")
MISTRAL_IMPORT_FIX = ("from mistralai import Mistral", "from mistralai.client import Mistral")


@dataclass
class Snippet:
    index: int
    basic: str
    stream: str

    @property
    def route(self) -> str:
        code = self.basic
        if "2024-05-01-preview" in code:
            return "foundry"
        if "2024-10-21" in code:
            return "azure"
        for needle, route in (
            ("mistral", "mistral"),
            ("claude", "anthropic"),
            ("gemini", "gemini"),
            ("gpt-4o", "openai"),
        ):
            if needle in code:
                return route
        raise AssertionError(f"cannot tell which vendor snippet {self.index} is for:\n{code}")

    @property
    def id(self) -> str:
        imports = [line.split()[-1] for line in self.basic.splitlines() if line.startswith(("from ", "import "))]
        name = next((n for n in imports if n[0].isupper()), imports[0])
        return f"{self.index:02d}-{self.route}-{name}"


def _is_prose(line: str) -> bool:
    """A guide line that is text, not Python: starts upper-case, not indented, no code punctuation."""
    return bool(line) and line[0].isupper() and not re.search(r"[=()\[\]{}\"]", line)


def extract_snippets(text: str) -> list[Snippet]:
    blocks: list[tuple[str, str]] = []
    kind: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        marker = _MARKER.match(stripped)
        if marker or (kind is not None and (_is_prose(line) or stripped.startswith("Install:"))):
            if kind is not None:
                blocks.append((kind, "\n".join(lines).strip() + "\n"))
            kind = ("stream" if marker.group(1) == "Streaming" else "basic") if marker else None
            lines = []
            continue
        if kind is not None:
            lines.append(line)
    if kind is not None:
        blocks.append((kind, "\n".join(lines).strip() + "\n"))
    snippets: list[Snippet] = []
    for i in range(0, len(blocks) - 1):
        (k1, code1), (k2, code2) = blocks[i], blocks[i + 1]
        if k1 == "basic" and k2 == "stream":
            snippets.append(Snippet(len(snippets) + 1, code1, code2))
    return snippets


def fill(snippet: Snippet, e2e: E2E) -> str:
    route = snippet.route
    code = snippet.basic + f"print({SEPARATOR!r}, end='')\n" + snippet.stream + "print()\n"
    code = code.replace("https://<gateway-host>/<context>", e2e.invoke_url(route))
    code = code.replace("<your-gateway-api-key>", e2e.key(route))
    code = code.replace("<your-deployment-name>", AZURE_DEPLOYMENT if route == "azure" else FOUNDRY_DEPLOYMENT)
    # the one documented SDK-version fix (sdk-contract.md §6.2); nothing else is changed
    return code.replace(*MISTRAL_IMPORT_FIX)


LABELS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Gemini",
    "mistral": "Mistral",
    "azure": "Azure OpenAI",
    "foundry": "Azure AI Foundry",
}
SNIPPETS = extract_snippets(GUIDE.read_text()) if GUIDE.is_file() else []


@pytest.fixture(scope="module")
def running(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, subprocess.Popen[str]]]:
    """Start every snippet script at once (they are independent); tests collect their own."""
    workdir = tmp_path_factory.mktemp("guide")
    procs: dict[int, subprocess.Popen[str]] = {}
    for snippet in SNIPPETS:
        script = workdir / f"snippet_{snippet.id}.py"
        script.write_text(fill(snippet, e2e))
        procs[snippet.index] = subprocess.Popen(
            [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir
        )
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_guide_is_present_and_has_the_13_setups() -> None:
    if not GUIDE.is_file():
        pytest.skip(f"client guide not found at {GUIDE} (it lives in ../shared beside the repo)")
    assert len(SNIPPETS) == 13, [s.id for s in SNIPPETS]
    assert sorted(s.route for s in SNIPPETS) == sorted(
        ["openai"] * 2 + ["anthropic"] * 2 + ["gemini"] * 2 + ["mistral"] * 3 + ["azure"] * 2 + ["foundry"] * 2
    )


@pytest.mark.parametrize("snippet", SNIPPETS or [None], ids=[s.id for s in SNIPPETS] or ["no-guide"])
def test_guide_snippet_runs_as_written(snippet: Snippet | None, running: dict[int, subprocess.Popen[str]]) -> None:
    if snippet is None:
        pytest.skip(f"client guide not found at {GUIDE}")
    proc = running[snippet.index]
    try:
        out, err = proc.communicate(timeout=SCRIPT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"snippet {snippet.id} did not finish in {SCRIPT_TIMEOUT_S}s:\n{err[-3000:]}")
    assert proc.returncode == 0, f"snippet {snippet.id} failed:\n{err[-3000:]}"
    basic, _, stream = out.partition(SEPARATOR)
    assert basic.strip() == f"Hello from the mock {LABELS[snippet.route]} API.", out
    assert stream.strip() == "1 2 3 4 5", out
