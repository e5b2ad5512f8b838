"""What a policy may read of one request: a structural view that the pipeline's exchange satisfies.

Policies depend on this Protocol, not on the gateway package, so they stay below the relay (they are
called by it and never call back) and unit tests can hand them a plain object.
"""

from __future__ import annotations

from typing import Protocol

from tollgate.types import HeaderList, JSONObject

__all__ = ["ExchangeView", "FactsView", "RouteView"]


class RouteView(Protocol):
    @property
    def provider(self) -> str: ...

    @property
    def proxy(self) -> str | None: ...


class FactsView(Protocol):
    @property
    def model(self) -> str | None: ...

    @property
    def is_streaming(self) -> bool: ...


class ExchangeView(Protocol):
    """The request facts policies use; filled by the pipeline before the request-body phase."""

    method: str
    sub_path: str
    headers: HeaderList
    key_id: str | None
    body: bytes
    body_obj: JSONObject | None

    @property
    def route(self) -> RouteView | None: ...

    @property
    def facts(self) -> FactsView: ...
