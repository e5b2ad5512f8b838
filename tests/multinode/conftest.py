"""Fixtures of the multi-node tests: a fresh PostgreSQL schema, the mock vendors and three processes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.multinode.cluster import ADMIN_TOKEN, NodeProcess, free_port
from tests.store.conftest import PG_URL, _pg_available, _pg_conninfo
from tollgate.mock import MockServer
from tollgate.store.crypto import new_key_text

pytestmark = pytest.mark.postgres


@dataclass
class Cluster:
    api: httpx.Client
    gateways: list[NodeProcess]
    control: NodeProcess
    mock: MockServer

    def check_alive(self) -> None:
        for node in (self.control, *self.gateways):
            assert node.proc.poll() is None, f"{node.name} died:\n{node.stderr_tail()}"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    schema = f"tg_multinode_{secrets.token_hex(6)}"
    with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with psycopg.connect(_pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def cluster(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir: Path = tmp_path_factory.mktemp("multinode")
    env = {"TOLLGATE_SECRET_KEY": new_key_text(), "TOLLGATE_ADMIN_TOKEN": ADMIN_TOKEN, "TOLLGATE_LOG_LEVEL": "warning"}
    admin_port = free_port()
    nodes: list[NodeProcess] = []
    with MockServer() as mock:
        try:
            control = NodeProcess(
                "control",
                ["--role", "control", "--db", pg_url, "--admin-port", str(admin_port)],
                env,
                workdir,
                admin_port,
            )
            nodes.append(control)
            control.wait_listening()  # migrations done before the gateways open the same store
            for index in (1, 2):
                port = free_port()
                args = ["--role", "gateway", "--db", pg_url, "--port", str(port), "--gateway-name", "default"]
                nodes.append(NodeProcess(f"gateway{index}", args, env, workdir, port))
            for node in nodes:
                node.wait_listening()
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            with httpx.Client(base_url=control.url + "/api/v1", headers=headers, timeout=10) as api:
                yield Cluster(api=api, gateways=nodes[1:], control=control, mock=mock)
        finally:
            for node in reversed(nodes):
                node.stop()
