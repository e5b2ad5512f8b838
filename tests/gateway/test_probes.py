"""Data-port probes (gateway/probes.py): live always; ready only with a snapshot loaded and a store that
answered recently. Against a real listener, and against a real node whose PostgreSQL store goes away
(its schema renamed) and comes back."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.store.conftest import KNOWN_TEMPLATES, PG_URL, _pg_available, _pg_conninfo
from tollgate.gateway import probes
from tollgate.gateway.app import GatewayState, start_gateway_server
from tollgate.gateway.probes import Readiness
from tollgate.node import Node, NodeConfig
from tollgate.store import Store

from .gw_helpers import ListSink


def test_readiness_needs_a_snapshot_and_a_store_that_answered_lately() -> None:
    now = [100.0]
    readiness = Readiness(clock=lambda: now[0])
    assert readiness.check() == (
        False,
        {"snapshot": {"ok": False, "revision": None}, "store": {"ok": False, "lastOkSecondsAgo": None}},
    )
    readiness.store_ok()
    assert readiness.check()[0] is False  # the store answers, but no snapshot yet
    readiness.loaded(7)
    now[0] += 5.0
    assert readiness.check() == (
        True,
        {"snapshot": {"ok": True, "revision": 7}, "store": {"ok": True, "lastOkSecondsAgo": 5.0}},
    )
    now[0] += 0.5
    assert readiness.check() == (
        False,
        {"snapshot": {"ok": True, "revision": 7}, "store": {"ok": False, "lastOkSecondsAgo": 5.5}},
    )


async def test_probes_on_the_data_port() -> None:
    state = GatewayState("gw", ListSink())
    server = await start_gateway_server(state, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient(base_url=url) as client:
            live = await client.get("/_tollgate/live")
            assert (live.status_code, live.json()) == (200, {"status": "live"})
            assert live.headers["content-type"] == "application/json"
            ready = await client.get("/_tollgate/ready")
            assert ready.status_code == 503
            assert ready.json() == {
                "status": "not ready",
                "checks": {
                    "snapshot": {"ok": False, "revision": None},
                    "store": {"ok": False, "lastOkSecondsAgo": None},
                },
            }
            state.readiness.store_ok()
            state.readiness.loaded(4)
            ready = await client.get("/_tollgate/ready")
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"
            assert ready.json()["checks"]["snapshot"] == {"ok": True, "revision": 4}
            head = await client.head("/_tollgate/ready")
            assert (head.status_code, head.content) == (200, b"")
            post = await client.post("/_tollgate/live")
            assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
            other = await client.get("/_tollgate/metrics")  # not a probe: the usual 404 of an unmatched path
            assert other.status_code == 404
            assert other.json()["error"]["code"] == "not_found"
    finally:
        server.close()
        state.pools.close()


@pytest.mark.postgres
async def test_a_node_is_not_ready_while_its_store_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    monkeypatch.setattr(probes, "STORE_FRESHNESS", 1.0)  # the default 5 s, shortened for the test
    monkeypatch.setenv("TOLLGATE_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("TOLLGATE_SECRET_KEY", raising=False)
    schema = f"tg_probe_{secrets.token_hex(6)}"
    with psycopg.connect(_pg_conninfo(), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        try:
            Store.open(url, known_templates=KNOWN_TEMPLATES).close()
            node = Node(NodeConfig(db_url=url, role="gateway", port=0))
            await node.start()
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.gateway_port}") as client:
                    ready = await client.get("/_tollgate/ready")
                    assert ready.status_code == 200, ready.text
                    admin.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')  # the store's tables vanish
                    body = await _wait_status(client, 503)
                    assert body["checks"]["store"]["ok"] is False
                    assert body["checks"]["snapshot"]["ok"] is True  # still serving the last snapshot
                    assert (await client.get("/_tollgate/live")).status_code == 200
                    admin.execute(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')
                    body = await _wait_status(client, 200)
                    assert body["checks"]["store"]["ok"] is True
            finally:
                await node.shutdown()
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}_away" CASCADE')


async def _wait_status(client: httpx.AsyncClient, status: int, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        answer = await client.get("/_tollgate/ready")
        if answer.status_code == status or time.monotonic() > deadline:
            assert answer.status_code == status, answer.text
            body: dict[str, object] = answer.json()
            return body
        await asyncio.sleep(0.1)
