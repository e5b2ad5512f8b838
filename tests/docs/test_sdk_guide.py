"""Every Python snippet of docs/sdk-guide.md runs against a real gateway with only URL, key and
deployment filled in, and prints a streamed answer.

The gateway is the demo's: mock vendors, a provider per vendor, on SQLite, served on loopback.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from tollgate.demo.deployment import DEMO_DEPLOYMENT, VENDORS, demo_documents
from tollgate.mock.server import MockServer
from tollgate.node import Node, NodeConfig
from tollgate.store import Store

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "sdk-guide.md"
SECTION_VENDOR = {
    "OpenAI": "openai",
    "Anthropic": "anthropic",
    "Gemini": "gemini",
    "Mistral AI": "mistral",
    "Azure OpenAI": "azure-openai",
    "Azure AI Foundry": "azure-foundry",
}


def _snippets() -> list[tuple[str, str, str]]:
    """(id, vendor, code) for each python block, the vendor taken from its `## ` section."""
    out = []
    vendor = None
    for block in re.split(r"^## ", GUIDE.read_text(), flags=re.M)[1:]:
        title = block.splitlines()[0].split(" (")[0].strip()
        vendor = SECTION_VENDOR.get(title)
        for i, code in enumerate(re.findall(r"```python\n(.*?)```", block, flags=re.S)):
            assert vendor is not None, f"python snippet under unknown section {title!r}"
            out.append((f"{vendor}-{i}", vendor, code))
    return out


SNIPPETS = _snippets()


class _Gateway:
    def __init__(self, base_url: str, keys: dict[str, str]) -> None:
        self.base_url = base_url
        self.keys = keys


@pytest.fixture(scope="module")
def demo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Gateway]:
    work = tmp_path_factory.mktemp("docs")
    db_url = f"sqlite:///{work / 'tg.db'}"
    with MockServer() as mock:
        urls = {v: mock.url(v) for v in ("openai", "anthropic", "gemini", "mistral", "azure", "foundry")}
        with Store.open(db_url) as store:
            report = store.apply_documents(demo_documents(urls, mock.keys))
        keys = {target.split("/", 1)[1]: value for _, target, value in report.new_keys}
        loop = uvloop.new_event_loop()
        node = Node(NodeConfig(db_url=db_url, role="gateway", port=0))
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(node.start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert started.wait(20), "gateway did not start"
        try:
            yield _Gateway(node.public_url, keys)
        finally:
            asyncio.run_coroutine_threadsafe(node.shutdown(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)


def test_guide_has_every_matrix_row() -> None:
    assert len(SNIPPETS) == 13
    assert {vendor for _, vendor, _ in SNIPPETS} == {v.name for v in VENDORS}


@pytest.mark.parametrize(("vendor", "code"), [(v, c) for _, v, c in SNIPPETS], ids=[i for i, _, _ in SNIPPETS])
def test_snippet_runs(demo_gateway: _Gateway, vendor: str, code: str, tmp_path: Path) -> None:
    filled = (
        code.replace("https://<gateway-host>/<context>", f"{demo_gateway.base_url}/{vendor}")
        .replace("<your-gateway-api-key>", demo_gateway.keys[vendor])
        .replace("<your-deployment-name>", DEMO_DEPLOYMENT)
    )
    script = tmp_path / "snippet.py"
    script.write_text(filled)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "1 2 3 4 5", proc.stdout  # the streamed answer of the mock
    assert lines[0], "the basic call printed nothing"
