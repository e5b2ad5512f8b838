"""The SQLite store's files are private: tollgate.db, -wal and -shm 0600, whatever the umask."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KNOWN_TEMPLATES
from store_docs import provider, secret

from tollgate.store import Store


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default that made the files world-readable
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_wal_shm_and_key_file_are_0600(tmp_path: Path, open_umask: None) -> None:
    db = tmp_path / "state" / "tollgate.db"
    with Store.open(f"sqlite:///{db}", known_templates=KNOWN_TEMPLATES) as store:
        store.apply_documents([secret(), provider()])
        store.ensure_admin_token()
        files = {p.name: mode(p) for p in db.parent.iterdir()}
        assert files == {
            "tollgate.db": 0o600,
            "tollgate.db-wal": 0o600,
            "tollgate.db-shm": 0o600,
            "secret.key": 0o600,
        }
    assert mode(db.parent) == 0o700


def test_an_existing_world_readable_file_is_reported_not_changed(
    tmp_path: Path, open_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "tollgate.db"
    db.touch(mode=0o644)
    caplog.set_level(logging.WARNING, logger="tollgate.store")
    Store.open(f"sqlite:///{db}", known_templates=KNOWN_TEMPLATES).close()
    assert mode(db) == 0o644
    assert f"{db} is readable by other users (mode 644); consider chmod 600" in caplog.messages
