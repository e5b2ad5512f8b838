"""Secrets: encrypted at rest, values only through `load_resource_set`, key rotation and key sources."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from store_docs import provider, secret

from tollgate.errors import ResourceConflictError, ResourceValidationError, SecretKeyError
from tollgate.store import Store
from tollgate.store.crypto import SecretCipher, new_key_text, read_key_file
from tollgate.store.urls import engine_url

PLAINTEXT = "sk-test-PLAINTEXT-0123456789"


def _raw_ciphertexts(db_url: str) -> list[bytes]:
    engine = create_engine(engine_url(db_url))
    try:
        with engine.connect() as conn:
            return [bytes(row[0]) for row in conn.execute(text("SELECT ciphertext FROM secrets"))]
    finally:
        engine.dispose()


def _deploy_with_secret(store: Store) -> None:
    store.apply_documents([secret(value=PLAINTEXT), provider(credential={"secret": "openai-key"})])


def test_plaintext_is_not_stored(store: Store, db_url: str, tmp_path: Path) -> None:
    _deploy_with_secret(store)
    blobs = _raw_ciphertexts(db_url)
    assert len(blobs) == 1 and PLAINTEXT.encode() not in blobs[0]
    for file in (tmp_path / "db").glob("tollgate.db*"):  # SQLite: the file and its WAL
        assert PLAINTEXT.encode() not in file.read_bytes()
    assert store.load_resource_set("default").secrets == {"openai-key": PLAINTEXT}


def test_secret_values_are_not_listed_or_shown(store: Store) -> None:
    _deploy_with_secret(store)
    assert store.list_secrets() == ["openai-key"]
    assert PLAINTEXT not in repr(secret(value=PLAINTEXT))
    assert PLAINTEXT not in repr(store.list_resources())


def test_put_secret_outcomes(store: Store) -> None:
    assert store.put_secret("s", "one") == "created"
    assert store.put_secret("s", "one") == "unchanged"
    assert store.put_secret("s", "two") == "changed"
    with pytest.raises(ResourceValidationError, match=r"metadata\.name"):
        store.put_secret("Bad Name", "x")


def test_secret_from_env(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from store_docs import doc

    with pytest.raises(ResourceValidationError) as caught:
        store.apply_resource(doc("Secret", "e", fromEnv="TG_TEST_UNSET_VAR"))
    assert caught.value.field == "spec.fromEnv" and "TG_TEST_UNSET_VAR is not set" in str(caught.value)
    monkeypatch.setenv("TG_TEST_SET_VAR", "from-env-value")
    assert store.apply_resource(doc("Secret", "e", fromEnv="TG_TEST_SET_VAR")) == "created"


def test_rotation_reencrypts_with_the_newest_key(store: Store, db_url: str, key_file: Path) -> None:
    _deploy_with_secret(store)
    before = _raw_ciphertexts(db_url)
    assert store.rotate_secrets(new_key=True) == 1
    assert len(read_key_file(key_file)) == 2
    after = _raw_ciphertexts(db_url)
    assert after != before
    assert store.rotate_secrets() == 0  # already under the newest key
    store.rotate_secrets(retire_old_keys=True)
    assert len(read_key_file(key_file)) == 1
    with Store.open(db_url, secret_key_file=key_file) as reopened:
        assert reopened.load_resource_set("default").secrets == {"openai-key": PLAINTEXT}


def test_env_key_ring_decrypts_with_any_key(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = new_key_text(), new_key_text()
    monkeypatch.setenv("TOLLGATE_SECRET_KEY", old)
    with Store.open(db_url) as store:
        _deploy_with_secret(store)
    monkeypatch.setenv("TOLLGATE_SECRET_KEY", f"{old},{new}")
    with Store.open(db_url) as store:
        assert store.load_resource_set("default").secrets["openai-key"] == PLAINTEXT
        assert store.rotate_secrets() == 1
        with pytest.raises(ResourceConflictError):
            store.rotate_secrets(new_key=True)
    monkeypatch.setenv("TOLLGATE_SECRET_KEY", new)
    with Store.open(db_url) as store:
        assert store.load_resource_set("default").secrets["openai-key"] == PLAINTEXT
    assert not (tmp_path / "db" / "secret.key").exists()


def test_wrong_key_is_a_clear_error_without_the_value(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLGATE_SECRET_KEY", new_key_text())
    with Store.open(db_url) as store:
        _deploy_with_secret(store)
    monkeypatch.setenv("TOLLGATE_SECRET_KEY", new_key_text())
    with Store.open(db_url) as store, pytest.raises(SecretKeyError) as caught:
        store.load_resource_set("default")
    assert "openai-key" in str(caught.value) and PLAINTEXT not in str(caught.value)


def test_cipher_binds_the_name_and_rejects_bad_keys() -> None:
    cipher = SecretCipher([base64.urlsafe_b64decode(new_key_text())])
    blob = cipher.encrypt("a", "value")
    assert cipher.decrypt("a", blob) == "value"
    with pytest.raises(SecretKeyError, match="integrity"):
        cipher.decrypt("b", blob)
    with pytest.raises(SecretKeyError):
        SecretCipher([b"short"])


def test_malformed_env_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOLLGATE_SECRET_KEY", "not-a-key")
    with pytest.raises(SecretKeyError, match=r"32 bytes|base64"):
        Store.open(f"sqlite:///{tmp_path / 't.db'}")


def test_a_proxy_credential_names_an_existing_secret_which_then_cannot_be_deleted(store: Store) -> None:
    """The outbound proxy's credential is a Secret reference like the vendor credential: checked at
    apply, loaded (decrypted) into the routing snapshot, and protected from deletion while in use."""
    behind_proxy = provider(proxy="http://proxy.internal:3128", proxyCredential={"secret": "proxy-login"})
    with pytest.raises(ResourceValidationError, match=r"spec\.proxyCredential\.secret: no Secret named 'proxy-login'"):
        store.apply_documents([behind_proxy])
    store.apply_documents([secret("proxy-login", "gw:pa55word"), behind_proxy])
    assert store.load_resource_set("default").secrets == {"proxy-login": "gw:pa55word"}
    with pytest.raises(ResourceConflictError, match=r"cannot delete Secret 'proxy-login': used by LLMProvider openai"):
        store.delete_secret("proxy-login")
    with pytest.raises(ResourceValidationError, match=r"proxyCredential is set but proxy is not"):
        store.apply_documents([provider(proxyCredential={"secret": "proxy-login"})])
