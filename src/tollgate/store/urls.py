"""Database URLs: the one default (env TOLLGATE_DB, else SQLite in ~/.tollgate) and driver mapping.

Other commands import `default_db_url()` from here so the default lives in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url

DB_ENV = "TOLLGATE_DB"
DEFAULT_DB_PATH = Path("~/.tollgate/tollgate.db")
#: The default when TOLLGATE_DB is unset (the home directory is expanded by `default_db_url`).
DEFAULT_DB_URL = f"sqlite:///{DEFAULT_DB_PATH}"


def default_db_url() -> str:
    """TOLLGATE_DB if set, else `sqlite:///` + the expanded ~/.tollgate/tollgate.db."""
    return os.environ.get(DB_ENV) or f"sqlite:///{DEFAULT_DB_PATH.expanduser()}"


def engine_url(url: str) -> URL:
    """The SQLAlchemy URL to connect with: `postgresql://` maps to psycopg 3, `sqlite:///` stays.

    Raises ValueError for any other scheme (the message never repeats the URL: it may hold a password).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("a SQLite store needs a file path: sqlite:///path/to/tollgate.db")
        return parsed.set(drivername="sqlite+pysqlite", database=str(Path(parsed.database).expanduser()))
    raise ValueError(f"unsupported database scheme {parsed.drivername!r}: use sqlite:/// or postgresql://")


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, None for other backends."""
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database)
    return None
