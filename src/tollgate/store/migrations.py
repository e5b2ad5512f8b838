"""Schema migrations: an ordered list of steps, recorded in `schema_version`, run when a store opens.

Idempotent (applied versions are skipped) and safe when several processes start at once: on
PostgreSQL the whole run holds a transaction-scoped advisory lock and DDL is transactional; on
SQLite the run is one `BEGIN IMMEDIATE` transaction. Step 1 creates the tables as `schema.py` declares
them today, so a fresh database already has every later column: each later step is additive and
idempotent (it adds a column or index only where it is missing), which keeps old databases and new
ones on one shape without freezing step 1. (Alembic would be the next step if a change ever needs
more than adding columns, indexes and tables.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Column, Connection, Engine, Index, Table, insert, inspect, select, text, update
from sqlalchemy.schema import CreateIndex

from tollgate.store import schema, user_rows

#: Arbitrary constant identifying Tollgate's migration lock among PostgreSQL advisory locks.
_ADVISORY_LOCK_ID = 0x70_6C_67_61_74_65  # "tollgate"-ish

Step = Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    schema.metadata.create_all(conn, checkfirst=True)
    conn.execute(insert(schema.revision).values(id=1, value=0))


def _v2_admin_tokens(conn: Connection) -> None:
    schema.admin_tokens.create(conn, checkfirst=True)


def _v3_usage_analytics(conn: Connection) -> None:
    """Cost and cached tokens on usage rows, their filter indexes, and the roll-ups (built from existing rows).

    Idempotent against step 1, which creates today's shape on a new database: columns and indexes
    are added only where missing, and roll-ups are built only when the table is new.
    """
    from tollgate.store import usage_rollups

    columns = {column["name"] for column in inspect(conn).get_columns("usage")}
    for name, sql_type in (("cached_tokens", "INTEGER"), ("cost", "FLOAT")):
        if name not in columns:
            conn.exec_driver_sql(f"ALTER TABLE usage ADD COLUMN {name} {sql_type}")
    for index in schema.usage.indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))
    if not inspect(conn).has_table("usage_rollup"):
        schema.usage_rollup.create(conn)
        schema.usage_rollup_coarse.create(conn, checkfirst=True)  # rebuild fills both (step 5 then has nothing to do)
        usage_rollups.rebuild(conn)


def add_column_if_missing(conn: Connection, table: Table, column: Column[object]) -> bool:
    """ALTER TABLE ... ADD COLUMN, unless the column exists; True when it was added."""
    if column.name in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        return False
    ddl = column.type.compile(dialect=conn.dialect)
    default = f" DEFAULT {column.server_default.arg}" if column.server_default is not None else ""  # type: ignore[attr-defined]
    not_null = " NOT NULL" if not column.nullable and default else ""
    conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {ddl}{default}{not_null}'))
    return True


def create_index_if_missing(conn: Connection, index: Index) -> None:
    table = index.table
    assert table is not None
    if index.name not in {i["name"] for i in inspect(conn).get_indexes(table.name)}:
        index.create(conn)


def _context(document: object) -> str | None:
    spec = document.get("spec") if isinstance(document, dict) else None
    context = spec.get("context") if isinstance(spec, dict) else None
    return context if isinstance(context, str) else None


def _v8_versions_contexts_key_metadata(conn: Connection) -> None:
    """resourceVersion and context columns on resources, context on deployments, metadata on API keys."""
    res, dep = schema.resources, schema.deployments
    add_column_if_missing(conn, res, res.c.resource_version)
    if add_column_if_missing(conn, res, res.c.context):
        for row in conn.execute(select(res.c.id, res.c.spec)).all():
            conn.execute(update(res).where(res.c.id == row.id).values(context=_context({"spec": row.spec})))
    if add_column_if_missing(conn, dep, dep.c.context):
        for row in conn.execute(select(dep.c.id, dep.c.spec)).all():
            conn.execute(update(dep).where(dep.c.id == row.id).values(context=_context(row.spec)))
    add_column_if_missing(conn, schema.api_keys, schema.api_keys.c.metadata)
    for table in (res, dep):
        for index in table.indexes:
            create_index_if_missing(conn, index)


def _gateway_problems(conn: Connection) -> None:
    """The table nodes report unservable deployments into (a new table: safe in any order)."""
    schema.gateway_problems.create(conn, checkfirst=True)


def _v5_coarse_rollup(conn: Connection) -> None:
    """Roll-ups without gateway and key, built from the full roll-ups (idempotent against step 1)."""
    from tollgate.store import usage_rollups

    if not inspect(conn).has_table("usage_rollup_coarse"):
        schema.usage_rollup_coarse.create(conn)
        usage_rollups.fill_coarse(conn)


def _v6_weekly_rollups(conn: Connection) -> None:
    """Week rows in both roll-ups, summed from their day rows (none yet: step 1 or a rebuild made them)."""
    from tollgate.store import usage_rollups

    has_weeks = conn.execute(
        select(schema.usage_rollup.c.period).where(schema.usage_rollup.c.period == usage_rollups.WEEK).limit(1)
    ).first()
    if has_weeks is None:
        usage_rollups.fill_weeks(conn)


#: Columns migration 7 adds to `admin_tokens` (a fresh database gets them from step 1 already).
_V7_TOKEN_COLUMNS = ("user_id", "kind", "expires_at", "revoked_at", "rotated_at", "last_used_at")


def _v7_users_and_audit(conn: Connection) -> None:
    """Users, per-user tokens with expiry and revocation, and the audit log; additive and re-runnable.

    Tokens made before users existed are given to a new admin user "admin", so they keep working.
    """
    schema.users.create(conn, checkfirst=True)
    schema.audit_log.create(conn, checkfirst=True)
    present = {c["name"] for c in inspect(conn).get_columns("admin_tokens")}
    for name in _V7_TOKEN_COLUMNS:
        if name not in present:
            column: Column[object] = schema.admin_tokens.c[name]
            ddl = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE admin_tokens ADD COLUMN {name} {ddl}"))
    for index in schema.admin_tokens.indexes:
        index.create(conn, checkfirst=True)
    tokens = schema.admin_tokens
    if conn.execute(select(tokens.c.id).where(tokens.c.user_id.is_(None)).limit(1)).first() is None:
        return
    owner = user_rows.find_or_create_admin(conn, datetime.now(UTC))
    conn.execute(update(tokens).where(tokens.c.user_id.is_(None)).values(user_id=owner, kind="api"))


def _v9_cache_columns(conn: Connection) -> None:
    """The response cache's result and the tokens a hit saved, on usage rows (additive, re-runnable)."""
    add_column_if_missing(conn, schema.usage, schema.usage.c.cache_result)
    add_column_if_missing(conn, schema.usage, schema.usage.c.saved_tokens)


def _v10_key_limits(conn: Connection) -> None:
    """The `limits` column of API keys (an APIKey's own rate, token and cost limits and model list)."""
    add_column_if_missing(conn, schema.api_keys, schema.api_keys.c.limits)


MIGRATIONS: list[tuple[int, Step]] = [
    (1, _v1_initial),
    (2, _v2_admin_tokens),
    (3, _v3_usage_analytics),
    (4, _gateway_problems),
    (5, _v5_coarse_rollup),
    (6, _v6_weekly_rollups),
    (7, _v7_users_and_audit),
    (8, _v8_versions_contexts_key_metadata),
    (9, _v9_cache_columns),
    (10, _v10_key_limits),
]


def migrate(engine: Engine) -> int:
    """Bring the schema to the latest version; returns that version. Safe to call any number of times."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(tollgate_write=True)  # BEGIN IMMEDIATE: one migrator at a time
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
            schema.schema_version.create(conn, checkfirst=True)
            done = set(conn.execute(select(schema.schema_version.c.version)).scalars())
            for version, step in MIGRATIONS:
                if version in done:
                    continue
                step(conn)
                conn.execute(insert(schema.schema_version).values(version=version, applied_at=datetime.now(UTC)))
    return MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    """The highest applied version (0 on an empty database)."""
    if not conn.dialect.has_table(conn, "schema_version"):
        return 0
    versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    return max(versions, default=0)
