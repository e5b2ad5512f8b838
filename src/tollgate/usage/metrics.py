"""Prometheus metrics of the traffic, computed by the usage writer child from the records it receives.

The child runs prometheus_client in multiprocess mode (values in files under the node's metrics
directory), and the node's `/metrics` reads that directory: the gateway's event loop does no metrics
work per request. Names follow the OpenTelemetry GenAI semantic conventions where they define one
(`gen_ai.client.token.usage`, `gen_ai.server.request.duration`, `gen_ai.server.time_to_first_token`,
as Prometheus spells them); the rest are `tollgate_*`. Labels are bounded: provider and proxy names
(resources), the model as the price table names it (else "other"), status class, token type. Never
a key id, a path or a raw model string from a client.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from tollgate.usage.pricing import PriceTable, default_table
from tollgate.usage.record import UsageRecord

#: Bucket boundaries the GenAI semantic conventions advise for each histogram.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
OTHER_MODEL = "other"
_ROUTE = ("provider", "proxy", "model")


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


class UsageMetrics:
    """The traffic metrics; `observe(batch)` once per batch of usage records. One per writer process.

    `registry` is for tests (normal mode); in the writer child it is None and values go to the
    multiprocess directory.
    """

    def __init__(self, registry: CollectorRegistry | None = None, prices: PriceTable | None = None) -> None:
        self._prices = prices or default_table()
        self.requests = Counter(
            "tollgate_requests",
            "Requests answered, by route, model, client API, status class and whether the answer was a stream.",
            [*_ROUTE, "client_api", "status_class", "stream"],
            registry=registry,
        )
        self.errors = Counter(
            "tollgate_errors", "Requests that failed, by route and error code.", [*_ROUTE, "code"], registry=registry
        )
        self.tokens = Counter(
            "tollgate_tokens", "Tokens metered, by type (input, output, cached).", [*_ROUTE, "type"], registry=registry
        )
        self.cost = Counter(
            "tollgate_cost_usd", "Cost at the price table's prices, in USD.", list(_ROUTE), registry=registry
        )
        self.cache = Counter(
            "tollgate_cache",
            "Requests on routes with a response cache, by result: hit, semantic_hit, miss, bypass, unavailable.",
            [*_ROUTE, "result"],
            registry=registry,
        )
        self.saved_tokens = Counter(
            "tollgate_cache_saved_tokens",
            "Tokens that cache hits did not spend upstream (the cached answers' metered tokens).",
            list(_ROUTE),
            registry=registry,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per request (OTel gen_ai.client.token.usage), by gen_ai_token_type input or output.",
            [*_ROUTE, "gen_ai_token_type"],
            buckets=TOKEN_BUCKETS,
            registry=registry,
        )
        self.duration = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Time from request arrival to the last byte sent (OTel gen_ai.server.request.duration).",
            [*_ROUTE, "status_class"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.upstream = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "Upstream latency: from sending the request to the vendor (last attempt) to the end of its answer "
            "(OTel gen_ai.client.operation.duration, the gateway being the vendor's client).",
            [*_ROUTE, "status_class"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from request arrival to the first byte of a stream (OTel gen_ai.server.time_to_first_token).",
            list(_ROUTE),
            buckets=TTFT_BUCKETS,
            registry=registry,
        )

    def model_label(self, record: UsageRecord) -> str:
        """The model as the price table names it (a bounded set), else "other"."""
        return self._prices.resolve(record.response_model or record.request_model) or OTHER_MODEL

    def observe(self, records: Sequence[UsageRecord]) -> None:
        """Add a batch: summed per label set first, then one update per series, not per record.

        In multiprocess mode every update writes a memory-mapped file under a lock (about 1 us each,
        a dozen per record); summing first makes the cost per batch follow the number of distinct
        series, a handful, instead of the number of records.
        """
        requests: dict[tuple[str, ...], int] = {}
        errors: dict[tuple[str, ...], int] = {}
        tokens: dict[tuple[str, ...], int] = {}
        cost: dict[tuple[str, ...], float] = {}
        duration: dict[tuple[str, ...], _Buckets] = {}
        ttft: dict[tuple[str, ...], _Buckets] = {}
        upstream: dict[tuple[str, ...], _Buckets] = {}
        token_usage: dict[tuple[str, ...], _Buckets] = {}
        cache: dict[tuple[str, ...], int] = {}
        saved: dict[tuple[str, ...], int] = {}
        prices = self._prices
        for r in records:
            route = (r.provider, r.proxy or "", self.model_label(r))
            klass = status_class(r.status)
            key: tuple[str, ...] = (*route, r.client_api or "", klass, "true" if r.is_streaming else "false")
            requests[key] = requests.get(key, 0) + 1
            _add(duration, (*route, klass), DURATION_BUCKETS, r.latency_ms / 1000.0)
            if r.upstream_ms is not None:
                _add(upstream, (*route, klass), DURATION_BUCKETS, r.upstream_ms / 1000.0)
            if r.error_code is not None or r.status >= 400:
                key = (*route, r.error_code or f"http_{klass}")
                errors[key] = errors.get(key, 0) + 1
            if r.is_streaming and r.ttfb_ms is not None:
                _add(ttft, route, TTFT_BUCKETS, r.ttfb_ms / 1000.0)
            if r.cache_result is not None:
                key = (*route, r.cache_result)
                cache[key] = cache.get(key, 0) + 1
                if r.saved_tokens:
                    saved[route] = saved.get(route, 0) + r.saved_tokens
            cached = r.cached_tokens
            for kind, count in (("input", r.prompt_tokens), ("output", r.completion_tokens), ("cached", cached)):
                if count:
                    key = (*route, kind)
                    tokens[key] = tokens.get(key, 0) + count
                    if kind != "cached":
                        _add(token_usage, key, TOKEN_BUCKETS, count)
            if route[2] != OTHER_MODEL and (r.prompt_tokens or r.completion_tokens):
                spent = prices.cost(route[2], r.prompt_tokens, r.completion_tokens, cached)
                if spent:
                    cost[route] = cost.get(route, 0.0) + spent
        for counter, sums in (
            (self.requests, requests),
            (self.errors, errors),
            (self.tokens, tokens),
            (self.cost, cost),
            (self.cache, cache),
            (self.saved_tokens, saved),
        ):
            for labels, amount in sums.items():
                counter.labels(*labels).inc(amount)
        for histogram, series in (
            (self.duration, duration),
            (self.upstream, upstream),
            (self.ttft, ttft),
            (self.token_usage, token_usage),
        ):
            for labels, buckets in series.items():
                buckets.apply_to(histogram.labels(*labels))


class _Buckets:
    """One histogram series' observations of a batch: a count per bucket (the last is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self, size: int) -> None:
        self.counts = [0] * (size + 1)
        self.total = 0.0

    def apply_to(self, child: Histogram) -> None:
        """Add to a labelled Histogram what `observe` would have added value by value.

        prometheus_client has no public "observe many"; a Histogram keeps one value per bucket
        (`_buckets`, non-cumulative, +Inf last) and `_sum`, which this updates as `observe` does.
        tests/usage/test_metrics.py checks the exposition against per-value observation.
        """
        child._sum.inc(self.total)
        for i, count in enumerate(self.counts):
            if count:
                child._buckets[i].inc(count)


def _add(
    series: dict[tuple[str, ...], _Buckets], key: tuple[str, ...], bounds: tuple[float, ...], value: float
) -> None:
    buckets = series.get(key)
    if buckets is None:
        buckets = series[key] = _Buckets(len(bounds))
    buckets.counts[bisect_left(bounds, value)] += 1  # the first bound >= value, as Histogram.observe
    buckets.total += value
