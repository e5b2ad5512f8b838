"""`AuditLog`: the record of every change made through the management API, and its queries.

Entries are appended by the control plane (which knows who asked and what changed) and never updated.
Listing is newest first with a keyset cursor (the last id seen), so pages stay stable while entries
are appended; `iterate` walks the same order in batches for exports of any size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, Select, insert, select

from tollgate.store import audit_state
from tollgate.store.audit_state import Selector
from tollgate.store.schema import audit_log
from tollgate.store.tx import FairLock, read_tx, to_utc, write_tx
from tollgate.types import JSONObject

MAX_PAGE = 1000
_EXPORT_BATCH = 500
#: Entries appended per write transaction: a 10,000-document apply's entries (each with two documents)
#: in one transaction held the write lock for seconds; chunks let other writers take their turn between.
APPEND_CHUNK = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: the user's name and id (None for TOLLGATE_ADMIN_TOKEN) and the token's id."""

    name: str
    user_id: str | None
    token_id: str


@dataclass(frozen=True, slots=True)
class Change:
    """One changed thing: `before` is None for a creation, `after` None for a deletion."""

    action: str
    kind: str
    name: str
    before: JSONObject | None
    after: JSONObject | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts: datetime
    actor: str
    actor_user_id: str | None
    actor_token_id: str
    action: str
    kind: str
    name: str
    method: str
    path: str
    before: JSONObject | None
    after: JSONObject | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Entries at or after `since`, before `until`, by `actor` (user name), of `kind`, `name`, `action`."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    kind: str | None = None
    name: str | None = None
    action: str | None = None


def _query(where: AuditFilter, before_id: int | None) -> Select[tuple[object, ...]]:
    query = select(audit_log).order_by(audit_log.c.id.desc())
    c = audit_log.c
    if where.since is not None:
        query = query.where(c.ts >= where.since)
    if where.until is not None:
        query = query.where(c.ts < where.until)
    for column, value in ((c.actor, where.actor), (c.kind, where.kind), (c.name, where.name), (c.action, where.action)):
        if value is not None:
            query = query.where(column == value)
    if before_id is not None:
        query = query.where(c.id < before_id)
    return query


class AuditLog:
    """Append and read audit entries over the store's engine. Shared, thread-safe."""

    def __init__(self, engine: Engine, gate: FairLock | None = None) -> None:
        self._engine = engine
        #: The store's write gate: writers of one process take turns in arrival order (see `tx.FairLock`).
        self._gate = gate

    def snapshot(self, selectors: Sequence[Selector]) -> dict[tuple[str, str], JSONObject]:
        """The current documents of what `selectors` name, read in one transaction (see `audit_state`)."""
        with read_tx(self._engine) as conn:
            return audit_state.read(conn, selectors)

    def append(self, actor: Actor, method: str, path: str, changes: Sequence[Change]) -> None:
        """Record `changes`, all stamped with the same time, `APPEND_CHUNK` entries per transaction.

        Each chunk takes its turn at the store's write gate, so a large apply's entries do not hold
        the write lock against other writers. The cost: a reader may see the first chunks before
        the last are written, and a failure mid-way leaves the earlier chunks recorded (each entry
        stands alone; one operation's entries share `ts`, `actor`, `method` and `path`).
        """
        if not changes:
            return
        ts = datetime.now(UTC)
        for start in range(0, len(changes), APPEND_CHUNK):
            rows = [
                {
                    "ts": ts,
                    "actor": actor.name,
                    "actor_user_id": actor.user_id,
                    "actor_token_id": actor.token_id,
                    "action": c.action,
                    "kind": c.kind,
                    "name": c.name[:255],
                    "method": method,
                    "path": path[:2048],
                    "before": c.before,
                    "after": c.after,
                }
                for c in changes[start : start + APPEND_CHUNK]
            ]
            with write_tx(self._engine, self._gate) as tx:
                tx.conn.execute(insert(audit_log), rows)

    def page(self, where: AuditFilter, *, after_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        """Up to `limit` entries, newest first, older than entry `after_id` when given (the cursor)."""
        with read_tx(self._engine) as conn:
            rows = conn.execute(_query(where, after_id).limit(max(1, min(limit, MAX_PAGE))))
            return [_entry(row) for row in rows]

    def iterate(self, where: AuditFilter) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, read in batches (each its own short transaction)."""
        after_id: int | None = None
        while True:
            batch = self.page(where, after_id=after_id, limit=_EXPORT_BATCH)
            yield from batch
            if len(batch) < _EXPORT_BATCH:
                return
            after_id = batch[-1].id


def _entry(row: object) -> AuditEntry:
    values = row._mapping  # type: ignore[attr-defined]
    return AuditEntry(
        id=int(values["id"]),
        ts=to_utc(values["ts"]) or values["ts"],
        actor=values["actor"],
        actor_user_id=values["actor_user_id"],
        actor_token_id=values["actor_token_id"],
        action=values["action"],
        kind=values["kind"],
        name=values["name"],
        method=values["method"],
        path=values["path"],
        before=values["before"],
        after=values["after"],
    )
