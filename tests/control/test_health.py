"""Management-port probes: live always, ready only with a reachable store and a started node; no token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.control.conftest import ADMIN_TOKEN, KNOWN_TEMPLATES
from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.control.health import CHECK_INTERVAL, STORE_FRESHNESS, StoreProbe
from tollgate.node import Node, NodeConfig
from tollgate.store import Store


def test_probes_need_no_token(store: Store) -> None:
    with TestClient(create_app(store, auth=AdminAuth(store, env_token=ADMIN_TOKEN))) as anonymous:
        assert anonymous.get("/_tollgate/live").json() == {"status": "live"}
        ready = anonymous.get("/_tollgate/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"store": {"ok": True, "lastOkSecondsAgo": 0.0}}}


def test_not_ready_until_the_node_has_started(store: Store) -> None:
    started = [False]
    app = create_app(store, auth=AdminAuth(store, env_token=ADMIN_TOKEN), started=lambda: started[0])
    with TestClient(app) as client:
        first = client.get("/_tollgate/ready")
        assert first.status_code == 503
        assert first.json()["status"] == "not ready"
        assert first.json()["checks"]["node"] == {"ok": False}
        started[0] = True
        assert client.get("/_tollgate/ready").status_code == 200


class FlakyStore:
    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    def current_revision(self) -> int:
        self.calls += 1
        if not self.up:
            raise ConnectionRefusedError("db down")
        return 7


def test_store_probe_checks_at_most_once_a_second_and_goes_stale() -> None:
    now = [100.0]
    store = FlakyStore()
    probe = StoreProbe(store, clock=lambda: now[0])  # type: ignore[arg-type]
    assert probe.check() == (True, {"ok": True, "lastOkSecondsAgo": 0.0})
    assert probe.check()[0] and store.calls == 1  # cached within the second
    store.up = False
    now[0] += CHECK_INTERVAL
    ok, details = probe.check()
    assert (ok, details) == (True, {"ok": True, "lastOkSecondsAgo": 1.0, "error": "ConnectionRefusedError"})
    now[0] += STORE_FRESHNESS
    ok, details = probe.check()
    assert (ok, details["ok"], details["error"]) == (False, False, "ConnectionRefusedError")
    store.up = True
    now[0] += CHECK_INTERVAL
    assert probe.check() == (True, {"ok": True, "lastOkSecondsAgo": 0.0})


async def test_a_running_nodes_management_port_is_ready(
    db_url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_SECRET_KEY_FILE", str(key_file))
    monkeypatch.setenv("TOLLGATE_ADMIN_TOKEN", ADMIN_TOKEN)
    Store.open(db_url, secret_key_file=key_file, known_templates=KNOWN_TEMPLATES).close()
    node = Node(NodeConfig(db_url=db_url, role="control", admin_port=0))
    await node.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.admin_port}") as client:
            ready = await client.get("/_tollgate/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"]["node"] == {"ok": True}
            assert (await client.get("/_tollgate/live")).status_code == 200
    finally:
        await node.shutdown()
