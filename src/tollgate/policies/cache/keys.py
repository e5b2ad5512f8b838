"""Cache keys: which requests are the same request (exact cache), and which differ only in their text
(semantic cache).

A key covers the client API, the route (its context), the method, the path below the context, the
query (minus credential parameters, sorted), whether a stream was asked for, the API key id when
the cache is per key, and the canonical JSON of the body (keys sorted, fields that do not change the
answer left out, see `DEFAULT_IGNORED_FIELDS`). The semantic cache's partition is the same with
every prompt text blanked: only requests alike in everything but their wording are compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from tollgate.gateway.exchange import Exchange
from tollgate.types import JSONObject, JSONValue

__all__ = [
    "DEFAULT_IGNORED_FIELDS",
    "DEFAULT_KEY_HEADERS",
    "KeySpec",
    "blank_texts",
    "partition_key",
    "prompt_text",
    "request_key",
]

#: Top-level body fields that never change the answer: `stream` (whether a stream was asked for is
#: keyed separately, so `"stream": false` and no field are one request), the end-user and tracking
#: ids (`user`, `metadata`, `safety_identifier`, `prompt_cache_key`) and `store` (OpenAI keeps a copy).
#: `stream_options` stays: it changes what a stream carries (the usage chunk).
DEFAULT_IGNORED_FIELDS = ("stream", "user", "metadata", "safety_identifier", "prompt_cache_key", "store")
#: Request headers that change the answer (an API version, beta features): their values are in the key.
DEFAULT_KEY_HEADERS = ("anthropic-version", "anthropic-beta", "openai-beta")
#: Fields whose strings are prompt text, in every client API's request (OpenAI chat and responses,
#: Anthropic messages, Gemini contents).
_TEXT_KEYS = frozenset({"content", "text", "input", "instructions", "prompt", "system"})


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What one cache attachment keys on besides the request itself; compiled once at build."""

    ignored: frozenset[str] = frozenset(DEFAULT_IGNORED_FIELDS)
    per_key: bool = False
    headers: frozenset[bytes] = frozenset(h.encode() for h in DEFAULT_KEY_HEADERS)


def _head(ex: Exchange, spec: KeySpec) -> bytes:
    route = ex.route
    assert route is not None and ex.client_api is not None
    query = ex.query
    if query:
        strip = route.targets[0].strip_query if route.targets else frozenset()
        query = "&".join(sorted(p for p in query.split("&") if p.split("=", 1)[0] not in strip))
    parts = [
        ex.client_api.name,
        route.context,
        ex.method,
        ex.sub_path,
        query,
        "stream" if ex.facts.is_streaming else "whole",
        (ex.key_id or "") if spec.per_key else "",
    ]
    if spec.headers:
        parts += sorted(f"{n.decode('latin-1')}={v.decode('latin-1')}" for n, v in ex.headers if n in spec.headers)
    return "\0".join(parts).encode()


def _digest(head: bytes, body: JSONObject, ignored: frozenset[str]) -> str:
    kept = {k: v for k, v in body.items() if k not in ignored}
    return hashlib.sha256(head + b"\0" + orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()


def request_key(ex: Exchange, body: JSONObject, spec: KeySpec) -> str:
    """The exact-match key of this request (64 hex digits)."""
    return _digest(_head(ex, spec), body, spec.ignored)


def blank_texts(value: JSONValue, under_text: bool = False) -> JSONValue:
    """`value` with every prompt string replaced by "" (structure, roles, images, tools kept)."""
    if isinstance(value, str):
        return "" if under_text else value
    if isinstance(value, list):
        return [blank_texts(v, under_text) for v in value]
    if isinstance(value, dict):
        return {k: blank_texts(v, k in _TEXT_KEYS) for k, v in value.items()}
    return value


def partition_key(ex: Exchange, body: JSONObject, spec: KeySpec) -> str:
    """The semantic partition of this request: its exact key with all prompt text blanked."""
    blanked = blank_texts(body)
    assert isinstance(blanked, dict)
    return _digest(_head(ex, spec) + b"\0semantic", blanked, spec.ignored)


def _texts(value: JSONValue, under_text: bool, out: list[str]) -> None:
    if isinstance(value, str):
        if under_text and value:
            out.append(value)
    elif isinstance(value, list):
        for item in value:
            _texts(item, under_text, out)
    elif isinstance(value, dict):
        role = value.get("role")
        if isinstance(role, str) and role:
            out.append(f"{role}:")
        for key, item in value.items():
            if key != "role":
                _texts(item, key in _TEXT_KEYS, out)


def prompt_text(body: JSONObject, ignored: Iterable[str] = ()) -> str:
    """The prompt's words in order (with the roles), what the semantic cache embeds."""
    out: list[str] = []
    skip = frozenset(ignored)
    for key, value in body.items():
        if key not in skip:
            _texts(value, key in _TEXT_KEYS, out)
    return "\n".join(out)
