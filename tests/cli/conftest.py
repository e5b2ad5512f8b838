"""A real management API (uvicorn on a loopback port, in a background thread) for the CLI tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.conftest import KNOWN_TEMPLATES, _no_key_env, db_url, key_file, pg_schema_url
from tollgate.control.server import ControlServer, start_control_server
from tollgate.store import Store

__all__ = ["_no_key_env", "db_url", "key_file", "pg_schema_url"]

ADMIN_TOKEN = "cli-test-admin-token-0123456789"


class LiveAPI:
    """`start_control_server` run in its own event loop on a thread; `url` is where it listens."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: ControlServer | None = None
        self.url = ""

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(start_control_server(None, self._store, "127.0.0.1", 0), self._loop)
        self._server, port = future.result(timeout=10)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        server = self._server
        if server is not None:
            server.close()
            asyncio.run_coroutine_threadsafe(server.wait_closed(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def api(db_url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveAPI]:
    monkeypatch.setenv("TOLLGATE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("TOLLGATE_URL", raising=False)
    monkeypatch.setenv("TOLLGATE_CLI_CONFIG", str(key_file.parent.parent / "no-cli.yaml"))
    with Store.open(db_url, secret_key_file=key_file, known_templates=KNOWN_TEMPLATES) as store:
        live = LiveAPI(store)
        live.start()
        monkeypatch.setenv("TOLLGATE_URL", live.url)
        try:
            yield live
        finally:
            live.stop()
