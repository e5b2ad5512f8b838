"""Transactions of the store: reads see one snapshot; writes are serialised and bump the revision once.

Every configuration change runs in a `WriteTx`. Its first statement locks the revision row (PostgreSQL
`FOR UPDATE`; SQLite `BEGIN IMMEDIATE` locks the file), so concurrent writers queue instead of racing,
and `bump()` increments the revision in the same transaction as the change it announces.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update

from tollgate.store.schema import revision


@dataclass(slots=True)
class WriteTx:
    """One write transaction: its connection, its clock, and the revision it bumped to (0 until it does)."""

    conn: Connection
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    revision: int = 0

    @property
    def bumped(self) -> bool:
        return self.revision != 0

    def bump(self) -> int:
        """Mark the transaction as a change gateways must pick up (idempotent within the transaction).

        Returns the new revision: it is also the resourceVersion of every resource this transaction changes.
        """
        if not self.revision:
            self.revision = int(
                self.conn.execute(
                    update(revision)
                    .where(revision.c.id == 1)
                    .values(value=revision.c.value + 1)
                    .returning(revision.c.value)
                ).scalar_one()
            )
        return self.revision


@contextmanager
def write_tx(engine: Engine) -> Iterator[WriteTx]:
    """A serialised write transaction; commits on normal exit, rolls back on an exception."""
    with engine.connect() as conn:
        conn = conn.execution_options(tollgate_write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(select(revision.c.value).where(revision.c.id == 1).with_for_update())
            yield WriteTx(conn)


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one consistent snapshot (REPEATABLE READ on PostgreSQL)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def to_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetimes out of either backend (SQLite hands back naive ones)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def current_revision(conn: Connection) -> int:
    return int(conn.execute(select(revision.c.value).where(revision.c.id == 1)).scalar_one())
