"""The interface the relay hands usage records to; implemented by the batching recorder."""

from __future__ import annotations

from typing import Protocol

from tollgate.usage.record import UsageRecord


class UsageSink(Protocol):
    def submit(self, record: UsageRecord) -> None:
        """Queue one record; never blocks, never raises (a full queue drops and counts)."""
        ...
