"""Large applies: chunks sized by how long the last one held the write lock, progress after each,
and the lookups that stay indexed as the store grows. On SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import itertools

from sqlalchemy import text

from tollgate.gcpause import full_collections_paused, paused
from tollgate.resources.loader import parse_document
from tollgate.resources.models import Resource
from tollgate.store import Store
from tollgate.store.chunking import FIRST_CHUNK, MAX_CHUNK, MIN_CHUNK, ChunkSizer

V1 = "tollgate.dev/v1"


def _providers(count: int) -> list[Resource]:
    spec = {"template": "openai", "upstreamUrl": "http://127.0.0.1:9/v1"}
    return [
        parse_document(
            {
                "apiVersion": V1,
                "kind": "LLMProvider",
                "metadata": {"name": f"p{i:04d}"},
                "spec": {**spec, "context": f"/p{i:04d}"},
            },
            "test",
        )
        for i in range(count)
    ]


def test_the_next_chunk_is_sized_from_the_last_ones_hold() -> None:
    sizer = ChunkSizer(target=0.15, first=100)
    sizer.record(100, 0.30)  # twice the target: half the documents
    assert sizer.size == 50
    sizer.record(50, 0.05)  # a third of the target: three times as many, but at most double
    assert sizer.size == 100
    sizer.record(100, 0.10)
    assert sizer.size == 150
    sizer.record(40, 5.0)  # the batch's short tail says nothing about the rate
    assert sizer.size == 150
    sizer.record(150, 60.0)
    assert sizer.size == MIN_CHUNK
    for _ in range(10):
        sizer.record(sizer.size, 0.0)
    assert sizer.size == MAX_CHUNK


def test_a_large_apply_reports_progress_after_each_chunk(store: Store) -> None:
    calls: list[tuple[int, int]] = []
    report = store.apply_documents(
        _providers(450), deploy=True, progress=lambda done, total: calls.append((done, total))
    )
    assert [r.outcome for r in report.results] == ["created"] * 450
    assert calls[0] == (FIRST_CHUNK, 450) and calls[-1] == (450, 450)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(calls))
    assert {total for _, total in calls} == {450}
    assert len(store.list_deployments("default")) == 450


def test_postgresql_statistics_are_refreshed_while_a_large_apply_grows_the_tables(store: Store) -> None:
    store.apply_documents(_providers(450), deploy=True)
    with store._engine.connect() as conn:  # the planner's view of the table is the point
        if store.backend != "postgresql":
            return
        tuples = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'deployments'::regclass")).scalar_one()
    # ANALYZE ran each time the documents written doubled (chunks are sized by time, so the counts at
    # which it ran vary): the planner's row count is within a factor of two, not "never analyzed" (-1)
    assert 450 / 2 <= tuples <= 450


def test_full_collections_pause_while_any_holder_is_inside() -> None:
    before = gc.get_threshold()
    with full_collections_paused():
        assert paused() and gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > 10**8
        with full_collections_paused():
            assert paused()
        assert paused()  # the outer holder is still inside
    assert not paused() and gc.get_threshold() == before
