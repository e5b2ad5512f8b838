"""`fingerprint`: a short, non-reversible tag of a presented secret, so logs can correlate failures.

A log line may say "admin token fp=3f2a9c1e failed" but never the token: 32 bits of an unkeyed
SHA-256 are enough to tell repeated attempts apart and far too few to recover or replay a real key.
"""

from __future__ import annotations

import hashlib

FINGERPRINT_CHARS = 8


def fingerprint(secret: str | bytes) -> str:
    """The first 8 hex characters of SHA-256 of `secret` ("-" for an empty one)."""
    data = secret.encode("utf-8", "surrogateescape") if isinstance(secret, str) else secret
    if not data:
        return "-"
    return hashlib.sha256(data).hexdigest()[:FINGERPRINT_CHARS]
