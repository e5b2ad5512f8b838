"""Value types of usage queries: the filter, the summary request, and the rows the store answers with.

Plain data, no SQL: the management API builds them from query parameters and renders the answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

#: What usage can be grouped and filtered by. `key` is the API key id, `model` the response model
#: (else the request model), `status` the HTTP status the client got.
Dimension = Literal["provider", "proxy", "key", "model", "status", "gateway"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)

Bucket = Literal["minute", "hour", "day"]
BUCKET_SECONDS: dict[Bucket, int] = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which records: a time range [start, end) in unix seconds (None = unbounded) and exact dimension values.

    `status_min`/`status_max` bound the status inclusively (a class such as 4xx is 400..499).
    """

    start: float | None = None
    end: float | None = None
    provider: str | None = None
    proxy: str | None = None
    key: str | None = None
    model: str | None = None
    gateway: str | None = None
    status_min: int | None = None
    status_max: int | None = None


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    """A summary: the filtered records' sums per group of `group_by` values, per time bucket (if any)."""

    filter: UsageFilter = field(default_factory=UsageFilter)
    group_by: tuple[Dimension, ...] = ()
    bucket: Bucket | None = None


@dataclass(slots=True)
class UsageAggregate:
    """The sums of one group in one time bucket.

    `bucket` is the bucket's start (unix seconds, UTC), None without buckets; `group` holds the
    values of the query's `group_by` dimensions in order (None where the records have none, such as
    the proxy of a request made to a provider directly).
    """

    bucket: int | None
    group: tuple[str | int | None, ...]
    requests: int = 0
    errors: int = 0
    streams: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    latency_ms_sum: float = 0.0
    latency_ms_max: float = 0.0
    ttfb_ms_sum: float = 0.0
    ttfb_count: int = 0

    @property
    def avg_latency_ms(self) -> float | None:
        return self.latency_ms_sum / self.requests if self.requests else None

    @property
    def avg_ttfb_ms(self) -> float | None:
        return self.ttfb_ms_sum / self.ttfb_count if self.ttfb_count else None

    def merge(self, other: UsageAggregate) -> None:
        """Add another part's sums for the same bucket and group (raw edges + roll-ups)."""
        self.requests += other.requests
        self.errors += other.errors
        self.streams += other.streams
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        self.cached_tokens += other.cached_tokens
        self.cost += other.cost
        self.latency_ms_sum += other.latency_ms_sum
        self.latency_ms_max = max(self.latency_ms_max, other.latency_ms_max)
        self.ttfb_ms_sum += other.ttfb_ms_sum
        self.ttfb_count += other.ttfb_count


@dataclass(frozen=True, slots=True)
class StoredUsage:
    """One raw usage record as stored: the request's facts plus its row id and cost."""

    id: int
    ts: float
    request_id: str
    gateway: str
    provider: str
    proxy: str | None
    key_id: str | None
    method: str
    path: str
    request_model: str | None
    response_model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    cost: float | None
    status: int
    latency_ms: float
    ttfb_ms: float | None
    is_streaming: bool
    error_code: str | None
    cache_result: str | None = None
    saved_tokens: int | None = None
