"""Migration 8 on a database made before it: columns and indexes added, contexts and versions backfilled."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from tests.control.docs import provider, proxy

from tollgate.errors import ResourceConflictError, ResourceValidationError
from tollgate.resources.loader import parse_document
from tollgate.store import Store
from tollgate.store.migrations import MIGRATIONS
from tollgate.store.urls import engine_url

_DROPPED = [
    ("resources", "resource_version", None),
    ("resources", "context", "ix_resources_context"),
    ("deployments", "context", "ix_deployments_context"),
    ("api_keys", "metadata", None),
]


def _downgrade_to_v7(url: str) -> None:
    """Make the schema what version 7 left (the columns and indexes of v8 absent, v8 unrecorded)."""
    engine = create_engine(engine_url(url))
    with engine.begin() as conn:
        conn.execute(text('DROP INDEX IF EXISTS "ix_deployments_resource"'))
        for table, column, index in _DROPPED:
            if index:
                conn.execute(text(f'DROP INDEX IF EXISTS "{index}"'))
            conn.execute(text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
        conn.execute(text("DELETE FROM schema_version WHERE version = 8"))
    engine.dispose()


def test_v8_upgrades_a_v7_database_and_backfills(db_url: str, key_file: Path) -> None:
    docs = [parse_document(provider(), "LLMProvider"), parse_document(proxy(), "LLMProxy")]
    with Store.open(db_url, secret_key_file=key_file) as store:
        store.apply_documents(docs)
    _downgrade_to_v7(db_url)
    with Store.open(db_url, secret_key_file=key_file) as store:
        assert store.schema_version() == MIGRATIONS[-1][0] >= 8
        assert store.get_resource("LLMProvider", "openai").metadata.resource_version == "0"
        engine = create_engine(engine_url(db_url))
        with engine.connect() as conn:
            contexts = dict(conn.execute(text("SELECT name, context FROM resources")).all())
            deployed = dict(conn.execute(text("SELECT name, context FROM deployments")).all())
            indexes = {i["name"] for i in inspect(conn).get_indexes("deployments")}
        engine.dispose()
        assert contexts == {"openai": "/openai", "team": "/team"} and deployed == contexts
        assert {"ix_deployments_context", "ix_deployments_resource"} <= indexes
        # the indexed conflict checks work on the backfilled rows: the stored context ...
        other = parse_document(provider("other", "/team"), "LLMProvider")
        with pytest.raises(ResourceValidationError, match="already the context of LLMProxy 'team'"):
            store.apply_documents([other], deploy=False)
        # ... and the deployed one (the proxy moved in the store, but still serves /team)
        store.apply_documents([parse_document(proxy(context="/moved"), "LLMProxy")], deploy=False)
        store.apply_documents([other], deploy=False)
        with pytest.raises(ResourceConflictError, match="already served on gateway 'default' by LLMProxy 'team'"):
            store.deploy("default", "LLMProvider", "other")
        assert store.get_resource("LLMProvider", "other").metadata.resource_version == str(store.current_revision())
