"""Inbound API-key check of one route, from the snapshot's in-memory key table.

Where the key is looked for (header or query, name, value prefix, the vendor's own credential
headers) is compiled once per route. Keys are found by their public id and their secret compared
in constant time against the stored SHA-256; no store access, no per-request allocation beyond
the hash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import unquote

from tollgate.errors import AuthenticationError
from tollgate.resources.keys import secret_matches, split_key
from tollgate.types import HeaderList

_BEARER = b"bearer "


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """A key as the data plane needs it: hash, expiry (unix time or None)."""

    id: str
    secret_hash: bytes
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class AuthCheck:
    """The compiled Security tab of one provider or proxy."""

    enabled: bool
    location: str  # "header" or "query"
    name: bytes  # lower-case header name, or the query parameter name
    query_name: str
    value_prefix: bytes
    vendor_headers: tuple[bytes, ...]  # lower-case; empty when switched off
    keys: dict[str, KeyEntry]

    def authenticate(self, headers: HeaderList, query: str) -> str | None:
        """The id of the valid key presented, or raise AuthenticationError. None when auth is off."""
        if not self.enabled:
            return None
        presented = self.presented(headers, query)
        if presented is None:
            raise AuthenticationError(f"Missing API key: send it in the {self._where()}.")
        parsed = split_key(presented)
        entry = self.keys.get(parsed[0]) if parsed is not None else None
        if parsed is None or entry is None:
            raise AuthenticationError("Invalid API key.")
        if not secret_matches(parsed[1], entry.secret_hash):
            raise AuthenticationError("Invalid API key.")
        if entry.expires_at is not None and entry.expires_at <= time.time():
            raise AuthenticationError("API key has expired.")
        return entry.id

    def presented(self, headers: HeaderList, query: str) -> str | None:
        """The key value the request presents (configured location first, then vendor headers), or None."""
        presented = self._configured_value(headers, query)
        return presented if presented is not None else self._vendor_value(headers)

    def _where(self) -> str:
        if self.location == "query":
            return f"'{self.query_name}' query parameter"
        return f"'{self.name.decode()}' header"

    def _configured_value(self, headers: HeaderList, query: str) -> str | None:
        if self.location == "header":
            name = self.name
            for key, value in headers:
                if key == name:
                    if self.value_prefix:
                        if not value.startswith(self.value_prefix):
                            return ""
                        value = value[len(self.value_prefix) :]
                    return value.decode("latin-1").strip()
            return None
        if not query:
            return None
        prefix = self.query_name + "="
        for part in query.split("&"):
            if part.startswith(prefix):
                text = unquote(part[len(prefix) :])
                if self.value_prefix:
                    text_prefix = self.value_prefix.decode()
                    if not text.startswith(text_prefix):
                        return ""
                    text = text[len(text_prefix) :]
                return text
        return None

    def _vendor_value(self, headers: HeaderList) -> str | None:
        """A well-formed key from a vendor credential header; "" when only malformed ones were sent."""
        if not self.vendor_headers:
            return None
        found: str | None = None
        for key, value in headers:
            if key in self.vendor_headers:
                if key == b"authorization":
                    if value[:7].lower() != _BEARER:
                        continue
                    value = value[7:]
                text = value.decode("latin-1").strip()
                if split_key(text) is not None:
                    return text
                found = ""
        return found
