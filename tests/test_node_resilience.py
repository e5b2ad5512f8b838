"""One bad resource in the store never stops a node: the rest applies, a revoked key stops working
within a second, and what is not served is reported with its reason (store, API, CLI columns)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

import tollgate.store.apply
from tollgate.mock.certs import self_signed_cert
from tollgate.mock.server import MockServer
from tollgate.node import Node, NodeConfig
from tollgate.resources.loader import parse_document
from tollgate.resources.models import Resource
from tollgate.store import Store
from tollgate.store.schema import deployments


def doc(kind: str, name: str, **spec: object) -> Resource:
    return parse_document(
        {"apiVersion": "tollgate.dev/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}, "t"
    )


BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def mock() -> AsyncIterator[MockServer]:
    with MockServer() as server:
        yield server  # type: ignore[misc]


async def wait_for(check: object, timeout: float) -> float:
    """Poll `check()` (async) until true; returns the seconds it took (fails past `timeout`)."""
    assert callable(check)
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_a_bad_resource_does_not_stop_later_changes(
    tmp_path: Path, mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path / 'tg.db'}"
    store = Store.open(db_url)
    report = store.apply_documents(
        [
            doc("Secret", "s", value=mock.keys["openai"]),
            doc(
                "LLMProvider",
                "good",
                template="openai",
                context="/good",
                upstreamUrl=mock.url("openai"),
                credential={"secret": "s"},
            ),
            doc("APIKey", "k", target={"kind": "LLMProvider", "name": "good"}),
        ]
    )
    key = report.new_keys[0][2]
    node = Node(NodeConfig(db_url=db_url, role="gateway", port=0, poll_interval=0.05))
    await node.start()
    url = node.public_url
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            call = lambda: client.post(f"{url}/good/v1/chat/completions", json=BODY, headers={"X-API-Key": key})  # noqa: E731
            assert (await call()).status_code == 200
            # A provider whose CA bundle is gone (accepted by an earlier version, or the file was removed)
            ca_dir = tmp_path / "ca"
            ca_dir.mkdir()
            cert, _ = self_signed_cert(ca_dir)
            cert.unlink()
            monkeypatch.setattr(tollgate.store.apply, "build_errors", lambda docs: [])
            store.apply_documents(
                [
                    doc(
                        "LLMProvider",
                        "bad",
                        template="openai",
                        context="/bad",
                        upstreamUrl="https://127.0.0.1:9",
                        caBundle=str(cert),
                    )
                ]
            )
            monkeypatch.undo()
            reason = f"spec.caBundle: file '{cert}' does not exist"

            async def reported() -> bool:
                return store.list_problems("default") != []

            await wait_for(reported, 2.0)
            assert node.problems == {("LLMProvider", "bad"): reason}
            assert [(p.kind, p.name, p.reason) for p in store.list_problems()] == [("LLMProvider", "bad", reason)]
            assert (await call()).status_code == 200  # the rest is still served
            bad = await client.post(f"{url}/bad/v1/chat/completions", json=BODY, headers={"X-API-Key": "x"})
            assert bad.status_code == 401  # wrong key: refused as usual
            bad_key = store.create_key("LLMProvider", "bad", "bk")[1]

            async def unavailable() -> bool:
                answer = await client.post(f"{url}/bad/v1/chat/completions", json=BODY, headers={"X-API-Key": bad_key})
                return answer.status_code == 503

            await wait_for(unavailable, 2.0)
            answer = await client.post(f"{url}/bad/v1/chat/completions", json=BODY, headers={"X-API-Key": bad_key})
            assert answer.json()["error"]["message"] == (
                "Upstream unavailable: the provider's upstream connection cannot be set up."
            )  # the OpenAI error shape; the file's path stays in the status report

            # ... and later changes still apply: a revoked key stops working within a second
            key_id = store.list_keys("LLMProvider", "good")[0].id
            store.revoke_key(key_id)

            async def refused() -> bool:
                return (await call()).status_code == 401

            assert await wait_for(refused, 1.0) < 1.0

            # fixed: the problem goes away from the report
            store.delete_resource("LLMProvider", "bad")

            async def cleared() -> bool:
                return store.list_problems("default") == []

            await wait_for(cleared, 2.0)
            assert node.problems == {}
    finally:
        await node.shutdown()
        store.close()


async def test_a_stored_document_that_no_longer_validates_is_left_out_and_reported(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'tg.db'}"
    store = Store.open(db_url)
    store.apply_documents(
        [
            doc("LLMProvider", "old", template="openai", context="/old", upstreamUrl="http://127.0.0.1:9"),
            doc("LLMProvider", "fine", template="openai", context="/fine", upstreamUrl="http://127.0.0.1:9"),
        ]
    )
    # as an earlier version stored it: a context with a dot segment, refused since
    with store._engine.begin() as conn:
        row = conn.execute(deployments.select().where(deployments.c.name == "old")).one()
        spec = dict(row.spec)
        spec["spec"] = {**spec["spec"], "context": "/../admin"}
        conn.execute(update(deployments).where(deployments.c.id == row.id).values(spec=spec))
    resources = store.load_resource_set("default")
    assert set(resources.providers) == {"fine"}
    (problem,) = resources.unloadable.items()
    assert problem == (
        ("LLMProvider", "old"),
        "the deployed document is not valid: spec.context: must not contain '.' or '..' "
        "segments (clients and proxies resolve them away)",
    )
    node = Node(NodeConfig(db_url=db_url, role="gateway", port=0))
    await node.start()
    try:
        assert node.problems == dict([problem])
        assert [(p.name, p.reason) for p in store.list_problems("default")] == [("old", problem[1])]
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{node.public_url}/fine/v1/models")
            assert response.status_code == 401  # served (it wants a key), not 404
    finally:
        await node.shutdown()
        store.close()
