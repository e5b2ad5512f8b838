"""Transactions of the store: reads see one snapshot; writes are serialised and bump the revision once.

Every configuration change runs in a `WriteTx`. Its first statement locks the revision row (PostgreSQL
`FOR UPDATE`; SQLite `BEGIN IMMEDIATE` locks the file), so concurrent writers queue instead of racing,
and `bump()` increments the revision in the same transaction as the change it announces.
"""

from __future__ import annotations

import threading
from collections import deque
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


class FairLock:
    """A lock granted in arrival order, so a writer that loops (a chunked apply) cannot starve others.

    SQLite's busy handler polls with growing sleeps, so a waiting writer almost never finds the file
    free between two chunks of a long apply; queueing the process's writers here first hands the
    lock to whoever waited longest. (PostgreSQL's lock queue is already first come, first served.)
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._held = False

    @contextmanager
    def held(self) -> Iterator[None]:
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            self._cond.wait_for(lambda: not self._held and self._queue[0] is ticket)
            self._queue.popleft()
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()


@contextmanager
def write_tx(engine: Engine, gate: FairLock | None = None) -> Iterator[WriteTx]:
    """A serialised write transaction; commits on normal exit, rolls back on an exception.

    With `gate`, the process's writers take turns in arrival order before they begin.
    """
    with gate.held() if gate is not None else _nothing(), engine.connect() as conn:
        conn = conn.execution_options(tollgate_write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(select(revision.c.value).where(revision.c.id == 1).with_for_update())
            yield WriteTx(conn)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


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
