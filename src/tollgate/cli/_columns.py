"""Table columns of each collection, for people; `--output json|yaml` prints the API's own data instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Column = tuple[str, Callable[[Any], object]]


def _spec(field: str) -> Callable[[Any], object]:
    return lambda doc: doc.get("spec", {}).get(field)


def _name(doc: Any) -> object:
    return doc.get("metadata", {}).get("name")


DEPLOYMENT_COLUMNS: list[Column] = [
    ("gateway", lambda d: d["gateway"]),
    ("kind", lambda d: d["kind"]),
    ("name", lambda d: d["name"]),
    ("revision", lambda d: d["revision"]),
    ("live", lambda d: d["live"]),
    ("invoke url", lambda d: d.get("invokeUrl")),
]
KEY_COLUMNS: list[Column] = [
    ("id", lambda k: k["id"]),
    ("name", lambda k: k["name"]),
    ("target", lambda k: f"{k['target']['kind']}/{k['target']['name']}"),
    ("key", lambda k: k["masked"]),
    ("status", lambda k: k["status"]),
    ("expires", lambda k: k.get("expiresAt")),
    ("last used", lambda k: k.get("lastUsedAt")),
]
COLUMNS: dict[str, list[Column]] = {
    "templates": [
        ("name", lambda t: t["name"]),
        ("builtin", lambda t: t["builtin"]),
        ("base url", lambda t: t.get("baseUrl")),
    ],
    "providers": [
        ("name", _name),
        ("template", _spec("template")),
        ("context", _spec("context")),
        ("upstream", _spec("upstreamUrl")),
    ],
    "proxies": [("name", _name), ("provider", _spec("provider")), ("context", _spec("context"))],
    "secrets": [("name", lambda s: s["name"]), ("used by", lambda s: ", ".join(s.get("usedBy", [])) or None)],
    "keys": KEY_COLUMNS,
    "gateways": [
        ("name", lambda g: g["name"]),
        ("base url", lambda g: g["baseUrl"]),
        ("status", lambda g: g["status"]),
        ("last seen", lambda g: g.get("lastSeen")),
        (
            "not served",
            lambda g: "; ".join(f"{p['kind']}/{p['name']}: {p['reason']}" for p in g.get("problems", [])) or None,
        ),
    ],
    "deployments": DEPLOYMENT_COLUMNS,
}
