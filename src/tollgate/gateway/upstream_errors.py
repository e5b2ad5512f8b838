"""Upstream failures counted by provider and kind, for `tollgate_upstream_errors_total`.

Counted by the relay where a failure is seen, on failure paths only (a successful request costs
nothing here), including failed attempts that a failover then hid from the client. Read at scrape
time. Kinds are few and fixed: one per upstream error class.
"""

from __future__ import annotations

from tollgate.errors import UpstreamError

__all__ = ["UpstreamErrorCounts", "error_kind"]


def error_kind(err: UpstreamError) -> str:
    """`timeout`, `unreachable`, `protocol` or `error` (an upstream error without a narrower class)."""
    return err.code.removeprefix("upstream_").removesuffix("_error") or "error"


class UpstreamErrorCounts:
    """(provider, kind) -> count; event loop only. Providers are resource names, so keys stay bounded."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, provider: str, kind: str) -> None:
        key = (provider, kind)
        self.counts[key] = self.counts.get(key, 0) + 1

    def failed(self, provider: str, err: UpstreamError) -> None:
        self.add(provider, error_kind(err))
