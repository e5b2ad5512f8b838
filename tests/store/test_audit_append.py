"""Audit entries are appended in chunks (each its own turn at the write gate), all of them, one timestamp."""

from __future__ import annotations

import pytest

from tollgate.store import Store, audit_log
from tollgate.store.audit_log import Actor, AuditFilter, Change


def test_append_writes_every_entry_in_chunks_with_one_timestamp(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_log, "APPEND_CHUNK", 3)
    turns: list[int] = []
    held = store.audit._gate.held  # type: ignore[union-attr]

    def counting() -> object:
        turns.append(1)
        return held()

    monkeypatch.setattr(store.audit._gate, "held", counting)
    changes = [Change("create", "LLMProvider", f"p{i}", None, {"n": i}) for i in range(7)]
    store.audit.append(Actor("alice", None, "tok-1"), "POST", "/api/v1/apply", changes)
    entries = list(store.audit.iterate(AuditFilter()))
    assert [e.name for e in reversed(entries)] == [f"p{i}" for i in range(7)]
    assert [e.after for e in reversed(entries)] == [{"n": i} for i in range(7)]
    assert len({e.ts for e in entries}) == 1
    assert len(turns) == 3  # 3 + 3 + 1
