"""An APIKey's own limits in the store: validated at apply naming the field, kept as JSON, changed in
place on re-apply (same key), through the management calls, and added to an older database by step 10."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from store_docs import api_key, provider, proxy

from tollgate.errors import ResourceValidationError
from tollgate.resources.loader import parse_document
from tollgate.store import Store
from tollgate.store.migrations import MIGRATIONS
from tollgate.store.urls import engine_url

LIMITS = {
    "requests": [{"requests": 60, "per": "minute"}],
    "tokens": [{"tokens": 1000, "per": "1m"}, {"tokens": 50000, "per": "day", "count": "completion"}],
    "cost": [{"usd": 2.5, "per": "day"}],
    "models": ["gpt-4o-mini", "gpt-4o*"],
}
#: as stored: durations in seconds, defaults filled in, camelCase
STORED = {
    "requests": [{"requests": 60, "per": 60}],
    "tokens": [{"tokens": 1000, "per": 60, "count": "total"}, {"tokens": 50000, "per": 86400, "count": "completion"}],
    "cost": [{"usd": 2.5, "per": 86400}],
    "models": ["gpt-4o-mini", "gpt-4o*"],
}


@pytest.fixture
def deployed(store: Store) -> Store:
    store.apply_documents([provider(), proxy()])
    return store


def test_limits_are_stored_and_changed_in_place(deployed: Store) -> None:
    created = deployed.apply_documents([api_key(limits=LIMITS)])
    assert created.outcome("APIKey", "team-key") == "created"
    (key,) = deployed.list_keys()
    assert key.limits == STORED
    assert deployed.load_resource_set("default").keys[0].limits == STORED
    assert deployed.apply_documents([api_key(limits=LIMITS)]).outcome("APIKey", "team-key") == "unchanged"
    tighter = {**LIMITS, "requests": [{"requests": 5, "per": "minute"}]}
    assert deployed.apply_documents([api_key(limits=tighter)]).outcome("APIKey", "team-key") == "changed"
    (same,) = deployed.list_keys()
    assert same.id == key.id and same.revoked_at is None  # the key keeps working: only its limits changed
    assert same.limits == {**STORED, "requests": [{"requests": 5, "per": 60}]}
    assert deployed.apply_documents([api_key()]).outcome("APIKey", "team-key") == "changed"
    assert deployed.list_keys()[0].limits is None


def test_management_calls_set_keep_and_clear_limits(deployed: Store) -> None:
    record, _ = deployed.create_key("LLMProxy", "team", "ci", limits=STORED)
    assert deployed.get_key(record.id).limits == STORED
    renamed = deployed.update_key(record.id, name="ci-2")  # limits left as they are
    assert renamed.limits == STORED and renamed.name == "ci-2"
    models_only = {"requests": [], "tokens": [], "cost": [], "models": ["gpt-4o"]}
    assert deployed.update_key(record.id, limits=models_only).limits == models_only
    assert deployed.update_key(record.id, limits=None).limits is None


@pytest.mark.parametrize(
    ("limits", "field", "reason"),
    [
        ({"tokens": [{"tokens": 10, "per": "fortnight"}]}, "spec.limits.tokens.0.per", "is not a duration"),
        ({"requests": [{"requests": 0, "per": "minute"}]}, "spec.limits.requests.0.requests", "greater than 0"),
        ({"cost": [{"usd": 1, "per": 60}, {"usd": 2, "per": "minute"}]}, "spec.limits", "same length"),
        ({}, "spec.limits", "at least one of requests, tokens, cost or models"),
        ({"requests": [{"requests": 1, "per": 60}], "rpm": 5}, "spec.limits.rpm", "unknown field"),
    ],
)
def test_bad_limits_are_refused_naming_the_field(limits: dict[str, object], field: str, reason: str) -> None:
    document = {
        "apiVersion": "tollgate.dev/v1",
        "kind": "APIKey",
        "metadata": {"name": "k"},
        "spec": {"target": {"kind": "LLMProxy", "name": "team"}, "limits": limits},
    }
    with pytest.raises(ResourceValidationError) as caught:
        parse_document(document, "keys.yaml")
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_v10_adds_the_limits_column_to_an_older_database(db_url: str, key_file: Path) -> None:
    with Store.open(db_url, secret_key_file=key_file) as store:
        store.apply_documents([provider(), proxy()])
        old, _ = store.create_key("LLMProxy", "team", "old")
    engine = create_engine(engine_url(db_url))
    with engine.begin() as conn:  # the schema as version 9 left it
        conn.execute(text('ALTER TABLE "api_keys" DROP COLUMN "limits"'))
        conn.execute(text("DELETE FROM schema_version WHERE version = 10"))
    with Store.open(db_url, secret_key_file=key_file) as store:
        assert store.schema_version() == MIGRATIONS[-1][0] == 10
        with engine.connect() as conn:
            assert "limits" in {c["name"] for c in inspect(conn).get_columns("api_keys")}
        assert store.get_key(old.id).limits is None
        new, _ = store.create_key("LLMProxy", "team", "new", limits=STORED)
        assert store.get_key(new.id).limits == STORED
    with Store.open(db_url, secret_key_file=key_file) as store:  # re-running is a no-op
        assert store.schema_version() == 10
    engine.dispose()
