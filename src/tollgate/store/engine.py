"""Engine construction for SQLite (WAL, busy timeout, explicit BEGIN) and PostgreSQL (psycopg 3).

SQLite's Python driver begins transactions lazily and never with IMMEDIATE; we take control of BEGIN
so a write transaction locks the file up front (`tollgate_write` execution option) instead of failing
with "database is locked" when it upgrades from a read lock halfway through.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

from tollgate.store.urls import sqlite_path

log = logging.getLogger("tollgate.store")

SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Mode of a new SQLite database file. SQLite gives the `-wal` and `-shm` files it creates beside it
#: the database file's own mode, so all three are private to the owner.
DB_FILE_MODE = 0o600


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


#: JSON columns through orjson (several times faster than the json module): large applies and
#: listings decode thousands of documents.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _dumps, "json_deserializer": orjson.loads}


def build_engine(url: URL) -> Engine:
    """An engine for `url` (already mapped by `urls.engine_url`); creates a SQLite file's parent dirs."""
    path = sqlite_path(url)
    if path is None:
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **_JSON_CODEC)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _create_private(path)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **_JSON_CODEC)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _create_private(path: Path) -> None:
    """Create the database file owner-only (an empty file is an empty SQLite database); warn when an
    existing one is readable by others (it holds key hashes and encrypted secrets): it is not changed."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DB_FILE_MODE))
        os.chmod(path, DB_FILE_MODE)  # the umask may have taken bits away, never added: make it exact
        return
    except FileExistsError:
        pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); consider chmod 600", path, mode)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _ensure_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ensure_wal(cursor: Any) -> None:
    """Switch the file to WAL once (the mode is stored in the file, later connections find it set).

    The switch needs the file to itself and SQLite answers "database is locked" at once, without its
    busy handler, while another connection works on it: several processes opening a new store together
    hit that. So retry within the busy timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_on_begin(conn: Connection) -> None:
    is_write = conn.get_execution_options().get("tollgate_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if is_write else "BEGIN")
