"""Tests for gateway/auth.py: where the key is read from, and every way a key is refused."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.gateway.gw_helpers import new_key, provider, resource_set
from tollgate.errors import AuthenticationError
from tollgate.gateway.auth import AuthCheck
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.resources import keys as keys_module
from tollgate.resources.keys import KeyRecord

UP = "http://127.0.0.1:9"


def _check(template: str = "openai", keys: list[KeyRecord] | None = None, **security: Any) -> AuthCheck:
    spec: dict[str, Any] = {"security": security} if security else {}
    rs = resource_set([provider("p", template, "/p", UP, **spec)], keys=keys)
    return compile_snapshot(rs, PoolRegistry()).routes["/p"].auth


@pytest.fixture
def key() -> tuple[str, KeyRecord]:
    return new_key("LLMProvider", "p")


def test_default_header_is_x_api_key(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    check = _check(keys=[record])
    assert check.authenticate([(b"x-api-key", value.encode())], "") == record.id
    assert check.authenticate([(b"x-api-key", b"  " + value.encode() + b" ")], "") == record.id


def test_custom_header_name_and_value_prefix(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    check = _check(keys=[record], name="X-Team-Key", valuePrefix="Key ", acceptVendorHeaders=False)
    assert check.authenticate([(b"x-team-key", b"Key " + value.encode())], "") == record.id
    with pytest.raises(AuthenticationError, match="Invalid"):  # prefix missing
        check.authenticate([(b"x-team-key", value.encode())], "")
    with pytest.raises(AuthenticationError) as missing:
        check.authenticate([(b"x-api-key", value.encode())], "")
    assert str(missing.value) == "Missing API key: send it in the 'x-team-key' header."  # quotes round the name


def test_query_location(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    check = _check(keys=[record], location="query", name="api_key")
    assert check.authenticate([], f"a=1&api_key={value}&b=2") == record.id
    # url-encoded value is decoded
    encoded = value.replace("_", "%5F")
    assert check.authenticate([], f"api_key={encoded}") == record.id
    with pytest.raises(AuthenticationError) as missing:
        check.authenticate([], "x_api_key=1&other=2")
    assert str(missing.value) == "Missing API key: send it in the 'api_key' query parameter."
    with pytest.raises(AuthenticationError, match="Missing"):
        check.authenticate([], "")


def test_query_location_with_prefix(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    check = _check(keys=[record], location="query", name="k", valuePrefix="tg:", acceptVendorHeaders=False)
    assert check.authenticate([], f"k=tg:{value}") == record.id
    with pytest.raises(AuthenticationError):
        check.authenticate([], f"k={value}")


@pytest.mark.parametrize(
    ("template", "header", "prefix"),
    [
        ("openai", b"authorization", b"Bearer "),
        ("openai", b"authorization", b"bearer "),
        ("anthropic", b"x-api-key", b""),
        ("anthropic", b"authorization", b"Bearer "),
        ("azure-openai", b"api-key", b""),
        ("azure-openai", b"authorization", b"Bearer "),
        ("gemini", b"x-goog-api-key", b""),
    ],
)
def test_vendor_headers_on_and_off(key: tuple[str, KeyRecord], template: str, header: bytes, prefix: bytes) -> None:
    value, record = key
    on = _check(template, keys=[record], name="X-Gateway-Key")
    assert on.authenticate([(header, prefix + value.encode())], "") == record.id
    off = _check(template, keys=[record], name="X-Gateway-Key", acceptVendorHeaders=False)
    with pytest.raises(AuthenticationError, match="Missing"):
        off.authenticate([(header, prefix + value.encode())], "")


def test_vendor_header_skips_a_non_key_value(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    check = _check("anthropic", keys=[record], name="X-Gateway-Key")
    # an SDK placeholder in one vendor header and the real key in another
    headers = [(b"authorization", b"Bearer placeholder"), (b"x-api-key", value.encode())]
    assert check.authenticate(headers, "") == record.id
    with pytest.raises(AuthenticationError, match="Invalid"):
        check.authenticate([(b"x-api-key", b"not-a-key")], "")
    with pytest.raises(AuthenticationError, match="Missing"):  # Basic auth is not a bearer key
        check.authenticate([(b"authorization", b"Basic " + value.encode())], "")


def test_configured_header_wins_over_vendor_header(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    other_value, other = new_key("LLMProvider", "p")
    check = _check(keys=[record, other])
    headers = [(b"authorization", b"Bearer " + other_value.encode()), (b"x-api-key", value.encode())]
    assert check.authenticate(headers, "") == record.id


def test_wrong_secret_for_a_valid_id(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    check = _check(keys=[record])
    forged = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        check.authenticate([(b"x-api-key", forged.encode())], "")


def test_unknown_id_and_key_of_another_route(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    stranger, stranger_record = new_key("LLMProvider", "other")
    check = _check(keys=[record, stranger_record])
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        check.authenticate([(b"x-api-key", stranger.encode())], "")
    unknown = "tg_" + "0" * 12 + value[15:]
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        check.authenticate([(b"x-api-key", unknown.encode())], "")


@pytest.mark.parametrize(
    "presented",
    [b"", b"tg_", b"tg_abc", b"sk-" + b"x" * 40, b"tg_0123456789ab-" + b"x" * 30, b"tg_0123456789ab_short"],
)
def test_malformed_keys(key: tuple[str, KeyRecord], presented: bytes) -> None:
    check = _check(keys=[key[1]])
    with pytest.raises(AuthenticationError) as info:
        check.authenticate([(b"x-api-key", presented)], "")
    assert info.value.status == 401
    assert presented.decode() not in info.value.message or not presented


def test_expired_key() -> None:
    value, record = new_key("LLMProvider", "p", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    fresh_value, fresh = new_key("LLMProvider", "p", expires_at=datetime.now(UTC) + timedelta(hours=1))
    check = _check(keys=[record, fresh])
    with pytest.raises(AuthenticationError, match="expired"):
        check.authenticate([(b"x-api-key", value.encode())], "")
    assert check.authenticate([(b"x-api-key", fresh_value.encode())], "") == fresh.id


def test_revoked_key_is_not_in_the_table() -> None:
    value, record = new_key("LLMProvider", "p", revoked=True)
    check = _check(keys=[record])
    assert record.id not in check.keys
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        check.authenticate([(b"x-api-key", value.encode())], "")


def test_auth_disabled_accepts_anything() -> None:
    check = _check(enabled=False)
    assert check.authenticate([], "") is None


def test_secret_is_compared_in_constant_time(key: tuple[str, KeyRecord], monkeypatch: pytest.MonkeyPatch) -> None:
    value, record = key
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)  # the one key comparison, used by auth
    check = _check(keys=[record])
    check.authenticate([(b"x-api-key", value.encode())], "")
    with pytest.raises(AuthenticationError):
        check.authenticate([(b"x-api-key", (value[:-1] + "Z").encode())], "")
    assert len(calls) == 2
    assert all(b == record.secret_hash and len(a) == 32 for a, b in calls)


def test_error_messages_never_echo_the_key(key: tuple[str, KeyRecord]) -> None:
    value, record = key
    check = _check(keys=[record])
    for presented in (value[:-2] + "xx", value + "x"):
        with pytest.raises(AuthenticationError) as info:
            check.authenticate([(b"x-api-key", presented.encode())], "")
        assert presented not in info.value.message and value[15:] not in info.value.message
