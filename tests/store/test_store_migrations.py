"""Migrations: idempotent, recorded, safe when several processes open the same database at once."""

from __future__ import annotations

import threading
from pathlib import Path

from tollgate.store import Store
from tollgate.store.migrations import MIGRATIONS


def test_open_twice_is_idempotent(db_url: str, key_file: Path) -> None:
    with Store.open(db_url, secret_key_file=key_file) as first:
        assert first.schema_version() == MIGRATIONS[-1][0]
        assert first.current_revision() == 0
    with Store.open(db_url, secret_key_file=key_file) as second:
        assert second.schema_version() == MIGRATIONS[-1][0]
        assert second.current_revision() == 0


def test_concurrent_opens_migrate_once(db_url: str, key_file: Path) -> None:
    errors: list[BaseException] = []
    stores: list[Store] = []
    barrier = threading.Barrier(4)

    def opener() -> None:
        barrier.wait()
        try:
            stores.append(Store.open(db_url, secret_key_file=key_file))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {s.current_revision() for s in stores} == {0}
    for opened in stores:
        opened.close()


def test_sqlite_creates_parent_dirs_and_uses_wal(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "t.db"
    with Store.open(f"sqlite:///{db}") as store:
        assert store.backend == "sqlite"
        assert db.exists()
        assert (tmp_path / "a" / "b" / "secret.key").stat().st_mode & 0o777 == 0o600
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
