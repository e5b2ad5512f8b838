"""The two kinds of route the console manages alike: LLM providers and LLM proxies (the same screens)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RouteKind:
    """A route kind: its document kind, API collection (also the console path and permission area), labels."""

    kind: str
    collection: str
    label: str
    plural: str

    @property
    def write_permission(self) -> str:
        return f"{self.collection}:write"


PROVIDERS = RouteKind("LLMProvider", "providers", "LLM provider", "LLM providers")
PROXIES = RouteKind("LLMProxy", "proxies", "LLM proxy", "LLM proxies")
BY_COLLECTION = {k.collection: k for k in (PROVIDERS, PROXIES)}
