"""Password hashing for management API users: argon2id (argon2-cffi), never a home-made KDF.

Only people log in with passwords; tokens (256 random bits) are hashed with SHA-256 instead. Each
hash string carries its own parameters, so raising them later re-hashes on the next good login.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, 64 MiB, p=4), about 0.1-0.2 s a hash.
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong password."""
    return _HASHER.hash("tollgate-no-such-user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-time (argon2-cffi) check; a missing or malformed hash is simply a refusal."""
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with weaker parameters than today's (re-hash after a good login)."""
    return _HASHER.check_needs_rehash(stored_hash)
