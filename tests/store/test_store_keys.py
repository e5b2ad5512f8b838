"""API keys: hashed only, shown once, revocable, expiring; APIKey documents keep their key on re-apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from store_docs import api_key, provider, proxy

from tollgate.errors import ResourceNotFoundError, ResourceValidationError
from tollgate.resources.keys import generate_key, secret_matches, split_key
from tollgate.store import Store
from tollgate.store.urls import engine_url


@pytest.fixture
def deployed(store: Store) -> Store:
    store.apply_documents([provider(), proxy()])
    return store


def test_create_key_stores_only_the_hash(deployed: Store, db_url: str) -> None:
    record, value = deployed.create_key("LLMProxy", "team", "ci")
    key_id, secret_part = split_key(value) or ("", "")
    assert record.id == key_id and secret_matches(secret_part, record.secret_hash)
    engine = create_engine(engine_url(db_url))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys")).one()
    engine.dispose()
    assert value not in repr(tuple(row)) and secret_part not in repr(tuple(row))
    assert record.masked == f"tg_{key_id}_****"


def test_create_key_for_a_missing_target(deployed: Store) -> None:
    with pytest.raises(ResourceNotFoundError, match="no LLMProxy named 'ghost'"):
        deployed.create_key("LLMProxy", "ghost", "ci")


def test_given_value_must_have_the_key_format(deployed: Store) -> None:
    with pytest.raises(ValueError, match="tg_"):
        deployed.create_key("LLMProxy", "team", "ci", value="sk-not-ours")
    value = generate_key().value
    record, returned = deployed.create_key("LLMProxy", "team", "ci", value=value)
    assert returned == value and record.id == value[3:15]


def test_revoke_takes_effect_in_the_resource_set(deployed: Store) -> None:
    record, _ = deployed.create_key("LLMProxy", "team", "ci")
    assert [k.id for k in deployed.load_resource_set("default").keys] == [record.id]
    revision = deployed.current_revision()
    revoked = deployed.revoke_key(record.id)
    assert revoked.revoked_at is not None
    assert deployed.current_revision() == revision + 1
    assert deployed.load_resource_set("default").keys == []
    assert deployed.list_keys()[0].revoked_at is not None


def test_expired_keys_are_not_served(deployed: Store) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    future = datetime.now(UTC) + timedelta(days=1)
    expired, _ = deployed.create_key("LLMProxy", "team", "old", expires_at=past)
    valid, _ = deployed.create_key("LLMProxy", "team", "new", expires_at=future)
    served = deployed.load_resource_set("default").keys
    assert [k.id for k in served] == [valid.id]
    assert served[0].expires_at is not None and abs((served[0].expires_at - future).total_seconds()) < 1
    assert {k.id for k in deployed.list_keys()} == {expired.id, valid.id}


def test_record_key_use_in_bulk_never_goes_back(deployed: Store) -> None:
    a, _ = deployed.create_key("LLMProxy", "team", "a")
    b, _ = deployed.create_key("LLMProvider", "openai", "b")
    revision = deployed.current_revision()
    t1 = datetime(2030, 1, 1, tzinfo=UTC)
    deployed.record_key_use({a.id: t1, b.id: t1})
    deployed.record_key_use({a.id: t1 - timedelta(hours=1)})
    assert deployed.get_key(a.id).last_used_at == t1
    assert deployed.get_key(b.id).last_used_at == t1
    assert deployed.current_revision() == revision


def test_key_document_is_kept_on_reapply(deployed: Store) -> None:
    first = deployed.apply_documents([api_key()])
    assert first.outcome("APIKey", "team-key") == "created" and len(first.new_keys) == 1
    name, target, value = first.new_keys[0]
    assert (name, target) == ("team-key", "LLMProxy/team") and value.startswith("tg_")
    again = deployed.apply_documents([api_key()])
    assert again.outcome("APIKey", "team-key") == "unchanged" and again.new_keys == []
    assert len(deployed.list_keys()) == 1
    assert value not in repr(first) and value not in " ".join(first.summary_lines())


def test_key_document_expiry_change_keeps_the_key(deployed: Store) -> None:
    deployed.apply_documents([api_key()])
    changed = deployed.apply_documents([api_key(expiresAt="2031-01-01T00:00:00Z")])
    assert changed.outcome("APIKey", "team-key") == "changed" and changed.new_keys == []
    assert deployed.list_keys()[0].expires_at == datetime(2031, 1, 1, tzinfo=UTC)


def test_key_document_from_env(deployed: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    value = generate_key().value
    monkeypatch.setenv("TG_TEST_KEY", value)
    report = deployed.apply_documents([api_key(valueFromEnv="TG_TEST_KEY")])
    assert report.outcome("APIKey", "team-key") == "created" and report.new_keys == []  # the operator knows it
    assert deployed.list_keys()[0].id == value[3:15]
    assert deployed.apply_documents([api_key(valueFromEnv="TG_TEST_KEY")]).outcome("APIKey", "team-key") == "unchanged"
    replacement = generate_key().value
    monkeypatch.setenv("TG_TEST_KEY", replacement)
    assert deployed.apply_documents([api_key(valueFromEnv="TG_TEST_KEY")]).outcome("APIKey", "team-key") == "changed"
    live = [k for k in deployed.list_keys() if k.revoked_at is None]
    assert [k.id for k in live] == [replacement[3:15]]


def test_key_document_env_errors(deployed: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ResourceValidationError) as caught:
        deployed.apply_documents([api_key(valueFromEnv="TG_TEST_UNSET")])
    assert caught.value.field == "spec.valueFromEnv" and "TG_TEST_UNSET is not set" in str(caught.value)
    monkeypatch.setenv("TG_TEST_BAD", "sk-live-SHOULD-NOT-APPEAR")
    with pytest.raises(ResourceValidationError) as caught:
        deployed.apply_documents([api_key(valueFromEnv="TG_TEST_BAD")])
    assert "tg_<12 hex>" in str(caught.value) and "SHOULD-NOT-APPEAR" not in str(caught.value)
