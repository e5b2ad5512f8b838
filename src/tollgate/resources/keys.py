"""API key format, generation and verification.

A key reads `tg_<id>_<secret>`: the id (12 hex chars) locates the record without revealing
anything, the secret (32 random bytes, url-safe base64) is stored only as its SHA-256 and compared
in constant time. SHA-256 suffices (no slow KDF) because the secret has 256 bits of entropy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

KEY_PREFIX = "tg_"
_ID_BYTES = 6
_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored API key: never the value, only its hash. `target_kind` is LLMProvider or LLMProxy."""

    id: str
    name: str
    target_kind: str
    target_name: str
    secret_hash: bytes
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    #: Owner-supplied string pairs (team, ticket, ...): never secret.
    metadata: dict[str, str] = field(default_factory=dict)
    #: The key's own limits as validated JSON (`APIKey.spec.limits`, camelCase); None = no limits.
    limits: dict[str, object] | None = None

    @property
    def masked(self) -> str:
        """What lists show: enough to recognise the key, nothing to use it."""
        return f"{KEY_PREFIX}{self.id}_****"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: `value` is shown once and then forgotten."""

    id: str
    value: str
    secret_hash: bytes


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def generate_key() -> NewKey:
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return NewKey(id=key_id, value=f"{KEY_PREFIX}{key_id}_{secret}", secret_hash=hash_secret(secret))


def regenerated_key(key_id: str) -> NewKey:
    """A new secret for an existing key id: the old value stops matching the moment it is stored."""
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return NewKey(id=key_id, value=f"{KEY_PREFIX}{key_id}_{secret}", secret_hash=hash_secret(secret))


def key_from_value(value: str) -> NewKey:
    """A key record for a value given by the operator (e.g. from an env var): must be well formed."""
    parsed = split_key(value)
    if parsed is None:
        raise ValueError(f"an API key must look like {KEY_PREFIX}<12 hex>_<secret of 22+ chars>")
    key_id, secret = parsed
    if any(c not in "0123456789abcdef" for c in key_id):
        raise ValueError(f"an API key must look like {KEY_PREFIX}<12 hex>_<secret of 22+ chars>")
    return NewKey(id=key_id, value=value, secret_hash=hash_secret(secret))


def split_key(value: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None. Cheap: no regex on the hot path."""
    if not value.startswith(KEY_PREFIX) or len(value) < len(KEY_PREFIX) + 2 * _ID_BYTES + 1 + 22:
        return None
    key_id = value[3 : 3 + 2 * _ID_BYTES]
    if value[3 + 2 * _ID_BYTES] != "_":
        return None
    return key_id, value[4 + 2 * _ID_BYTES :]


def secret_matches(secret: str, expected_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), expected_hash)
