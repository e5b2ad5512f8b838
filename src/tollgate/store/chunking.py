"""How a large apply is cut into write transactions: chunks sized by time, planner statistics kept fresh.

Other writers (a secret PUT, a gateway heartbeat, the audit log) wait for at most the chunk that holds
the write lock when they arrive. A fixed count is the wrong unit for that: 200 documents took 0.1 s on
a quiet SQLite file and over a second on a loaded PostgreSQL. So each chunk's size is chosen from how
long the previous one held the lock, aiming at `TARGET_HOLD` seconds.

On PostgreSQL a bulk import into a fresh or small store also outruns autovacuum's statistics: the
planner still believes the deployments table is nearly empty and filters every live deployment of the
gateway instead of using the context index, so each chunk got slower than the last (3-4 s per chunk
at 10,000). `StatisticsRefresher` runs ANALYZE on the tables an apply grows each time the rows it has
written double (a handful of times per batch, tens of milliseconds each, taking no lock writers wait on).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

#: Seconds a chunk should hold the write lock: what another writer waits at worst, per transaction.
TARGET_HOLD = 0.15
FIRST_CHUNK = 100
MIN_CHUNK = 10
MAX_CHUNK = 500
#: Tables a bulk apply grows, whose statistics decide the plans of its lookups.
_GROWN_TABLES = ("resources", "deployments")


class ChunkSizer:
    """The next chunk's size from the last one's: `size * TARGET_HOLD / held`, at most doubling."""

    def __init__(self, target: float = TARGET_HOLD, first: int = FIRST_CHUNK) -> None:
        self.target = target
        self.size = first

    def record(self, documents: int, held: float) -> None:
        """The last chunk wrote `documents` while holding the lock `held` seconds."""
        if documents < self.size:  # the batch's tail says nothing about the rate
            return
        ideal = documents * self.target / max(held, 1e-3)
        self.size = int(max(MIN_CHUNK, min(MAX_CHUNK, ideal, 2 * self.size)))


class StatisticsRefresher:
    """ANALYZE the grown tables on PostgreSQL whenever the rows written so far double (no-op on SQLite,
    whose planner picks these indexes without statistics)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._enabled = engine.dialect.name == "postgresql"
        self._next = FIRST_CHUNK

    def written(self, documents: int) -> None:
        """`documents` of the batch are committed so far."""
        if not self._enabled or documents < self._next:
            return
        self._next = 2 * documents
        with self._engine.connect() as conn:
            conn.execute(text(f"ANALYZE {', '.join(_GROWN_TABLES)}"))
            conn.commit()
