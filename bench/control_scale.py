"""Control-plane scale: one apply of many providers and proxies through the management API.

    .venv/bin/python bench/control_scale.py --backend sqlite --count 10000
    .venv/bin/python bench/control_scale.py --backend postgresql --count 10000 \
        [--pg-url postgresql://USER@127.0.0.1:5432/test]

Starts the management API (uvicorn, as `tollgate serve` does) on a free loopback port over a fresh
store (a temporary SQLite file, or a throwaway PostgreSQL schema), then POSTs one /apply of
`count` documents (half providers, half proxies on them), deployed to the `default` gateway. Meanwhile
another client writes a secret every 50 ms and times each write: the longest one is how long the big
apply blocked other writers. Then it pages through the providers (limit 500) and times a page.
Prints one line of figures per run; not a test (timings depend on the machine and its load).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tollgate.control.server import ControlServer, start_control_server
from tollgate.store import Store

TOKEN = "bench-admin-token-0123456789"


def documents(count: int) -> list[dict[str, Any]]:
    half = count // 2
    docs: list[dict[str, Any]] = []
    for i in range(half):
        docs.append(
            {
                "apiVersion": "tollgate.dev/v1",
                "kind": "LLMProvider",
                "metadata": {"name": f"p{i:05d}", "labels": {"bench": "scale"}},
                "spec": {"template": "openai", "context": f"/p{i:05d}", "upstreamUrl": "http://127.0.0.1:9/v1"},
            }
        )
    for i in range(count - half):
        docs.append(
            {
                "apiVersion": "tollgate.dev/v1",
                "kind": "LLMProxy",
                "metadata": {"name": f"x{i:05d}", "labels": {"bench": "scale"}},
                "spec": {"provider": f"p{i % half:05d}", "context": f"/x{i:05d}"},
            }
        )
    return docs


@contextmanager
def store_url(backend: str, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/tollgate.db"
        return
    import psycopg

    schema = f"tg_bench_{secrets.token_hex(4)}"
    with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Server:
    """The management API on its own event loop thread."""

    def __init__(self, store: Store) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        start = start_control_server(None, store, "127.0.0.1", 0)
        self.server: ControlServer
        self.server, port = asyncio.run_coroutine_threadsafe(start, self.loop).result(timeout=30)
        self.url = f"http://127.0.0.1:{port}/api/v1"

    def stop(self) -> None:
        self.server.close()
        asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def other_writer(url: str, stop: threading.Event, latencies: list[float]) -> None:
    """A secret write every 50 ms; each write's wall time (a blocked writer waits for the lock)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as http:
        n = 0
        while not stop.is_set():
            start = time.perf_counter()
            response = http.put("/secrets/other-writer", json={"value": f"v{n}"})
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
            n += 1
            time.sleep(0.05)


def run(backend: str, count: int, pg_url: str) -> None:
    import os

    os.environ["TOLLGATE_ADMIN_TOKEN"] = TOKEN
    docs = documents(count)
    with store_url(backend, pg_url) as url, tempfile.TemporaryDirectory() as keys:
        with Store.open(url, secret_key_file=Path(keys) / "secret.key") as store:
            server = Server(store)
            try:
                latencies: list[float] = []
                stop = threading.Event()
                writer = threading.Thread(target=other_writer, args=(server.url, stop, latencies))
                writer.start()
                time.sleep(0.5)
                headers = {"Authorization": f"Bearer {TOKEN}"}
                body = {"documents": docs, "gateway": "default"}
                start = time.perf_counter()
                response = httpx.post(f"{server.url}/apply", json=body, headers=headers, timeout=600)
                applied = time.perf_counter() - start
                time.sleep(0.3)
                stop.set()
                writer.join()
                response.raise_for_status()
                outcomes = {r["outcome"] for r in response.json()["results"]}
                assert outcomes == {"created"}, outcomes
                start = time.perf_counter()
                again = httpx.post(f"{server.url}/apply", json=body, headers=headers, timeout=600)
                reapplied = time.perf_counter() - start
                assert {r["outcome"] for r in again.json()["results"]} == {"unchanged"}
                page_times: list[float] = []
                cursor: str | None = None
                pages = 0
                with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
                    while True:
                        start = time.perf_counter()
                        page = http.get("/providers", params={"limit": 500, **({"after": cursor} if cursor else {})})
                        page_times.append(time.perf_counter() - start)
                        pages += 1
                        cursor = page.headers.get("X-Next-Cursor")
                        if not cursor:
                            break
                live = len(store.list_deployments("default"))
            finally:
                server.stop()
    print(
        f"{backend:<10} documents={count} apply={applied:.1f}s reapply(unchanged)={reapplied:.1f}s "
        f"deployments={live} other-writer: n={len(latencies)} max={max(latencies) * 1000:.0f}ms "
        f"p50={statistics.median(latencies) * 1000:.0f}ms; provider pages={pages} "
        f"page(500) median={statistics.median(page_times) * 1000:.0f}ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--pg-url", default=f"postgresql://{getpass.getuser()}@127.0.0.1:5432/test")
    args = parser.parse_args()
    run(args.backend, args.count, args.pg_url)


if __name__ == "__main__":
    sys.exit(main())
