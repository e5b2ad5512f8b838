"""The tables, as SQLAlchemy Core metadata: the current shape of the schema that `migrations` builds.

Timestamps are timezone-aware UTC (SQLite stores them naive; `store` re-attaches UTC on read).
Usage rows keep `ts` as unix seconds, the unit of `UsageRecord`, so range scans are plain numbers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY
_JSON = JSON().with_variant(JSONB(), "postgresql")
_TS = DateTime(timezone=True)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", _TS, nullable=False),
)

#: One row (id 1): bumped in the same transaction as every configuration change.
revision = Table(
    "revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

resources = Table(
    "resources",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(63), nullable=False),
    Column("metadata", _JSON, nullable=False),
    Column("spec", _JSON, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("updated_at", _TS, nullable=False),
    #: The revision (see `revision`) of the transaction that last changed the row: its resourceVersion.
    Column("resource_version", BigInteger, nullable=False, server_default="0"),
    #: A provider's or proxy's context, kept out of the JSON so context conflicts are an index lookup.
    Column("context", String),
    UniqueConstraint("kind", "name", name="uq_resources_kind_name"),
    Index("ix_resources_context", "context"),
)

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("updated_at", _TS, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("name", String(63), nullable=False),
    Column("target_kind", String(32), nullable=False),
    Column("target_name", String(63), nullable=False),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("expires_at", _TS),
    Column("revoked_at", _TS),
    Column("last_used_at", _TS),
    #: Free-form string pairs the owner attaches (team, ticket, ...); never secret.
    Column("metadata", _JSON),
    #: The key's own limits (`APIKey.spec.limits` as validated JSON, camelCase); NULL = none.
    Column("limits", _JSON),
    Index("ix_api_keys_target", "target_kind", "target_name"),
    Index("ix_api_keys_name", "name"),
)

gateways = Table(
    "gateways",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("base_url", String(2048), nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_seen", _TS),
    Column("created_at", _TS, nullable=False),
)

#: One row per deployed revision of a resource on a gateway; the live one has no undeployed_at.
deployments = Table(
    "deployments",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("gateway", String(63), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", String(63), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("spec", _JSON, nullable=False),
    Column("deployed_at", _TS, nullable=False),
    Column("undeployed_at", _TS),
    #: The deployed document's context: "is this context served on this gateway" is an index lookup.
    Column("context", String),
    UniqueConstraint("gateway", "kind", "name", "revision", name="uq_deployments_revision"),
    Index("ix_deployments_live", "gateway", "undeployed_at"),
    Index("ix_deployments_context", "gateway", "context"),
    Index("ix_deployments_resource", "kind", "name"),
)

#: Management API tokens: only the SHA-256 of each token is stored (tokens have 256 bits of entropy).
#: Each belongs to a user (`user_id`; rows from before users existed were given the user "admin").
#: `kind` is "api" (made by hand) or "session" (from a password login). Columns after `created_at`
#: were added by migration 3.
admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("name", String(63), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("user_id", String(12)),
    Column("kind", String(16)),
    Column("expires_at", _TS),
    Column("revoked_at", _TS),
    Column("rotated_at", _TS),
    Column("last_used_at", _TS),
    Index("ix_admin_tokens_user", "user_id"),
)

#: Named people (`kind` "user", may have an argon2id password) and service accounts ("service", tokens only).
users = Table(
    "users",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("name", String(63), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(512)),
    Column("created_at", _TS, nullable=False),
    Column("updated_at", _TS, nullable=False),
    Column("disabled_at", _TS),
    UniqueConstraint("name", name="uq_users_name"),
)

#: Every change made through the management API: who (user and token id, never the token), when, what.
#: `before`/`after` are the changed thing's documents with secret values masked; `id` orders and pages.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("ts", _TS, nullable=False),
    Column("actor", String(63), nullable=False),
    Column("actor_user_id", String(12)),
    Column("actor_token_id", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("before", _JSON),
    Column("after", _JSON),
    Index("ix_audit_log_ts", "ts"),
    Index("ix_audit_log_actor", "actor"),
    Index("ix_audit_log_kind", "kind"),
)

usage = Table(
    "usage",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("gateway", String(63), nullable=False),
    Column("provider", String(63), nullable=False),
    Column("proxy", String(63)),
    Column("key_id", String(12)),
    Column("method", String(16), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("request_model", String(256)),
    Column("response_model", String(256)),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("total_tokens", Integer),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("ttfb_ms", Float),
    Column("is_streaming", Boolean, nullable=False),
    Column("error_code", String(64)),
    # added in migration 3: prompt tokens read from the vendor's cache, and the cost at write time
    Column("cached_tokens", Integer),
    Column("cost", Float),
    # added in migration 9: the response cache's result, and the tokens a cache hit saved
    Column("cache_result", String(16)),
    Column("saved_tokens", Integer),
    Index("ix_usage_ts", "ts"),
    # migration 3: per-record listings filtered by one dimension, newest first, use (dimension, ts)
    Index("ix_usage_provider_ts", "provider", "ts"),
    Index("ix_usage_proxy_ts", "proxy", "ts"),
    Index("ix_usage_key_ts", "key_id", "ts"),
    Index("ix_usage_status_ts", "status", "ts"),
    Index("ix_usage_model_ts", func.coalesce(text("response_model"), text("request_model")), "ts"),
)


def _rollup_sums() -> list[Column[Any]]:
    """The summed measures of a roll-up row (fresh Column objects: a column belongs to one table)."""
    counts = ("requests", "streams", "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens")
    reals = ("cost", "latency_ms_sum", "latency_ms_max", "ttfb_ms_sum")
    return [
        *(Column(name, BigInteger, nullable=False) for name in counts),
        *(Column(name, Float, nullable=False) for name in reals),
        Column("ttfb_count", BigInteger, nullable=False),
    ]


#: Usage summed per hour (period 3600) and per UTC day (period 86400) and per combination of the
#: dimensions, maintained by the usage writer in the transaction that inserts the raw rows, and kept
#: when retention prunes them. Absent proxy / key / model are '' (not NULL) so the primary key can be
#: the upsert's conflict target on both backends.
usage_rollup = Table(
    "usage_rollup",
    metadata,
    Column("period", Integer, primary_key=True, autoincrement=False),
    Column("bucket", BigInteger, primary_key=True, autoincrement=False),  # unix seconds, start of the period
    Column("gateway", String(63), primary_key=True),
    Column("provider", String(63), primary_key=True),
    Column("proxy", String(63), primary_key=True),
    Column("key_id", String(12), primary_key=True),
    Column("model", String(256), primary_key=True),
    Column("status", Integer, primary_key=True, autoincrement=False),
    *_rollup_sums(),
)

#: The same sums without the gateway and key dimensions (migration 5): one row per period, provider,
#: proxy, model and status, so summaries that neither group nor filter by key or gateway read rows in
#: proportion to proxies x models, not to keys. Maintained with `usage_rollup`, in the same transaction.
usage_rollup_coarse = Table(
    "usage_rollup_coarse",
    metadata,
    Column("period", Integer, primary_key=True, autoincrement=False),
    Column("bucket", BigInteger, primary_key=True, autoincrement=False),
    Column("provider", String(63), primary_key=True),
    Column("proxy", String(63), primary_key=True),
    Column("model", String(256), primary_key=True),
    Column("status", Integer, primary_key=True, autoincrement=False),
    *_rollup_sums(),
)

#: What the nodes of each gateway last reported they cannot serve, and why (replaced on every change).
gateway_problems = Table(
    "gateway_problems",
    metadata,
    Column("gateway", String(63), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("reason", String(1000), nullable=False),
    Column("reported_at", _TS, nullable=False),
)
