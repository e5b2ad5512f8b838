"""Traffic metrics from usage records: names, bounded labels, exact values (unit), and `/metrics` of a
real node after SDK calls (the writer child computes them; the node's management port serves them)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.usage_records import usage_record
from tollgate.mock.server import MockServer
from tollgate.resources.keys import generate_key
from tollgate.usage.metrics import UsageMetrics

RECORD = usage_record(
    ts=1_793_577_660.0,
    request_id="r1",
    latency_ms=250.0,
    ttfb_ms=30.0,
    cached_tokens=400,
    client_api="openai",
    upstream_ms=200.0,
)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_records_become_metrics_with_bounded_labels() -> None:
    registry = CollectorRegistry()
    metrics = UsageMetrics(registry)
    refused = RECORD._replace(
        request_id="r2", key_id=None, prompt_tokens=None, completion_tokens=None, total_tokens=None, status=429,
        ttfb_ms=None, is_streaming=False, error_code="rate_limited", response_model=None, request_model="made-up-9000",
    )  # fmt: skip
    metrics.observe([RECORD, RECORD._replace(request_id="r3"), refused])
    got = samples(registry)
    route = (("model", "gpt-4o"), ("provider", "openai"), ("proxy", "team"))
    other = (("model", "other"), ("provider", "openai"), ("proxy", "team"))
    api = ("client_api", "openai")
    assert got[("tollgate_requests_total", (api, *route, ("status_class", "2xx"), ("stream", "true")))] == 2
    assert got[("tollgate_requests_total", (api, *other, ("status_class", "4xx"), ("stream", "false")))] == 1
    assert got[("tollgate_errors_total", (("code", "rate_limited"), *other))] == 1
    assert got[("tollgate_tokens_total", (*route, ("type", "input")))] == 2000
    assert got[("tollgate_tokens_total", (*route, ("type", "output")))] == 1000
    assert got[("tollgate_tokens_total", (*route, ("type", "cached")))] == 800
    # 600 uncached input at $2.50/M, 400 cached at $1.25/M, 500 output at $10/M: $0.007 a request
    assert got[("tollgate_cost_usd_total", route)] == pytest.approx(2 * 0.007)
    upstream = (*route, ("status_class", "2xx"))
    assert got[("gen_ai_client_operation_duration_seconds_count", upstream)] == 2
    assert got[("gen_ai_client_operation_duration_seconds_sum", upstream)] == pytest.approx(0.4)
    assert got[("gen_ai_client_operation_duration_seconds_bucket", (("le", "0.16"), *upstream))] == 0
    assert got[("gen_ai_client_operation_duration_seconds_bucket", (("le", "0.32"), *upstream))] == 2
    assert got[("gen_ai_client_token_usage_count", (("gen_ai_token_type", "input"), *route))] == 2
    assert got[("gen_ai_client_token_usage_sum", (("gen_ai_token_type", "input"), *route))] == 2000
    assert got[("gen_ai_client_token_usage_bucket", (("gen_ai_token_type", "input"), ("le", "1024.0"), *route))] == 2
    assert got[("gen_ai_server_time_to_first_token_seconds_count", route)] == 2
    assert got[("gen_ai_server_time_to_first_token_seconds_bucket", (("le", "0.04"), *route))] == 2
    assert got[("gen_ai_server_request_duration_seconds_sum", (*route, ("status_class", "2xx")))] == 0.5
    labels = {name for (_, pairs) in got for name, _ in pairs}
    assert labels == {
        "provider", "proxy", "model", "client_api", "status_class", "stream", "code", "type", "gen_ai_token_type", "le"
    }  # fmt: skip
    assert not any("0123456789ab" in value for (_, pairs) in got for _, value in pairs)  # never a key id


def test_a_batch_adds_exactly_what_observing_each_record_adds() -> None:
    """`observe` sums a batch per series before touching the histograms: the exposition must equal
    that of one `Histogram.observe` per value, bucket edges (exactly on a bound, past the last) included."""
    from prometheus_client import Histogram

    from tollgate.usage.metrics import DURATION_BUCKETS

    latencies = [0.0, 10.0, 10.000001, 20.0, 81_920.0, 90_000.0, 250.0, 250.0]  # ms: 0.01 s is a bound
    records = [RECORD._replace(request_id=f"r{i}", latency_ms=ms) for i, ms in enumerate(latencies)]
    batched = CollectorRegistry()
    UsageMetrics(batched).observe(records)
    one_by_one = CollectorRegistry()
    reference = Histogram(
        "gen_ai_server_request_duration_seconds", "", ["provider", "proxy", "model", "status_class"],
        buckets=DURATION_BUCKETS, registry=one_by_one,
    )  # fmt: skip
    for ms in latencies:
        reference.labels("openai", "team", "gpt-4o", "2xx").observe(ms / 1000.0)
    want = {k: v for k, v in samples(one_by_one).items() if k[0].startswith("gen_ai_server_request_duration")}
    got = {k: v for k, v in samples(batched).items() if k[0].startswith("gen_ai_server_request_duration")}
    assert got == want
    le = (("le", "0.01"), ("model", "gpt-4o"), ("provider", "openai"), ("proxy", "team"), ("status_class", "2xx"))
    assert got[("gen_ai_server_request_duration_seconds_bucket", le)] == 2  # 0 and exactly 10 ms
    assert got[("gen_ai_server_request_duration_seconds_count", le[1:])] == 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout: float = 60.0) -> None:  # a start on a loaded host can take half a minute
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_metrics_of_a_node_after_sdk_calls(tmp_path: Path) -> None:
    key, dead_key = generate_key().value, generate_key().value
    port, admin_port, dead_port = _free_port(), _free_port(), _free_port()  # nothing listens on dead_port
    with MockServer() as mock:
        (tmp_path / "c.yaml").write_text(
            "apiVersion: tollgate.dev/v1\nkind: Secret\nmetadata: {name: s}\n"
            f"spec: {{value: {mock.keys['openai']}}}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: LLMProvider\nmetadata: {name: openai}\n"
            f'spec: {{template: openai, context: /openai, upstreamUrl: "{mock.url("openai")}", '
            "credential: {secret: s}}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: APIKey\nmetadata: {name: k}\n"
            "spec: {target: {kind: LLMProvider, name: openai}, valueFromEnv: TG_TEST_KEY}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: LLMProvider\nmetadata: {name: dead}\n"
            f'spec: {{template: openai, context: /dead, upstreamUrl: "http://127.0.0.1:{dead_port}", '
            "credential: {secret: s}}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: APIKey\nmetadata: {name: k2}\n"
            "spec: {target: {kind: LLMProvider, name: dead}, valueFromEnv: TG_TEST_KEY2}\n"
        )
        env = {
            **os.environ,
            "TG_TEST_KEY": key,
            "TG_TEST_KEY2": dead_key,
            "TOLLGATE_ADMIN_TOKEN": "metrics-test-admin-token-0123",
        }
        command = [sys.executable, "-m", "tollgate", "serve", "--config", str(tmp_path / "c.yaml"), "--db",
                   f"sqlite:///{tmp_path / 't.db'}", "--port", str(port), "--admin-port", str(admin_port),
                   "--log-level", "warning"]  # fmt: skip
        proc = subprocess.Popen(command, env=env)
        try:
            admin = f"http://127.0.0.1:{admin_port}"
            _wait(f"{admin}/_tollgate/ready")
            client = openai.OpenAI(api_key=key, base_url=f"http://127.0.0.1:{port}/openai/v1", max_retries=0)
            messages = [{"role": "user", "content": "Say hello."}]
            cached = [{"role": "user", "content": "Say hello. [mock:cached=2]"}]  # the mock reports 2 cached
            client.chat.completions.create(model="gpt-4o", messages=cached)  # type: ignore[arg-type]
            client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
            for _ in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True):  # type: ignore[arg-type]
                pass
            client.close()
            wrong = openai.OpenAI(api_key="tg_000000000000_wrong", base_url=client.base_url, max_retries=0)
            with pytest.raises(openai.AuthenticationError):
                wrong.models.list()
            wrong.close()
            dead = openai.OpenAI(api_key=dead_key, base_url=f"http://127.0.0.1:{port}/dead/v1", max_retries=0)
            with pytest.raises(openai.InternalServerError):
                dead.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
            dead.close()
            headers = {"Authorization": "Bearer metrics-test-admin-token-0123"}
            deadline = time.monotonic() + 20
            while True:
                records = httpx.get(f"{admin}/api/v1/usage/records", headers=headers).json()["items"]
                text = httpx.get(f"{admin}/metrics").text
                families = {f.name: f for f in text_string_to_metric_families(text)}
                requests = families.get("tollgate_requests")
                total = sum(s.value for s in requests.samples if s.name == "tollgate_requests_total") if requests else 0
                open_connections = families["tollgate_connections_open"].samples[0].value
                # the refused one and the failed one too; the SDK clients are closed
                if (len(records) == total == 5 and open_connections == 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    ok = [r for r in records if r["status"] == 200]
    assert len(ok) == 3
    by_stream = {
        s.labels["stream"]: s.value
        for s in families["tollgate_requests"].samples
        if s.name == "tollgate_requests_total" and s.labels["status_class"] == "2xx"
    }
    assert by_stream == {"false": 2, "true": 1}
    assert {
        (s.labels["provider"], s.labels["model"], s.labels["client_api"], s.labels["status_class"], s.value)
        for s in families["tollgate_requests"].samples
        if s.name == "tollgate_requests_total"
    } == {
        ("openai", "gpt-4o", "openai", "2xx", 2),
        ("openai", "gpt-4o", "openai", "2xx", 1),
        ("openai", "other", "openai", "4xx", 1),
        ("dead", "gpt-4o", "openai", "5xx", 1),
    }
    errors = {(s.labels["code"], s.value) for s in families["tollgate_errors"].samples if s.name.endswith("_total")}
    assert errors == {("invalid_api_key", 1), ("upstream_unreachable", 1)}
    tokens = {
        s.labels["type"]: s.value for s in families["tollgate_tokens"].samples if s.name == "tollgate_tokens_total"
    }
    assert sum(r["cachedTokens"] or 0 for r in ok) == 2
    assert tokens == {
        "input": sum(r["promptTokens"] for r in ok),
        "output": sum(r["completionTokens"] for r in ok),
        "cached": 2,
    }
    upstream = [
        s.value
        for s in families["gen_ai_client_operation_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels["status_class"] == "2xx"
    ]
    assert upstream == [3]  # the three answered by the vendor; neither the refused nor the failed one
    upstream_errors = [
        (s.labels["provider"], s.labels["kind"], s.value)
        for s in families["tollgate_upstream_errors"].samples
        if s.name.endswith("_total")
    ]
    assert upstream_errors == [("dead", "unreachable", 1)]
    assert families["tollgate_connections_open"].samples[0].value == 0
    assert families["tollgate_streams_in_flight"].samples[0].value == 0
    assert families["tollgate_ready"].samples[0].value == 1
    assert families["tollgate_snapshot_revision"].samples[0].value >= 1
    assert 0 < families["tollgate_snapshot_age_seconds"].samples[0].value < 120
    assert 0 <= families["tollgate_store_last_ok_age_seconds"].samples[0].value < 5
    cost = sum(s.value for s in families["tollgate_cost_usd"].samples if s.name == "tollgate_cost_usd_total")
    assert cost == pytest.approx(sum(r["cost"] for r in ok))
    ttft = families["gen_ai_server_time_to_first_token_seconds"].samples
    assert [s.value for s in ttft if s.name.endswith("_count")] == [1]
    written = families["tollgate_usage_records_written"].samples
    assert next(s.value for s in written if s.name.endswith("_total")) == 5
    assert "tollgate_requests_in_flight" in families


def test_cache_results_and_saved_tokens() -> None:
    registry = CollectorRegistry()
    hit = RECORD._replace(cache_result="hit", saved_tokens=1500, prompt_tokens=0, completion_tokens=0, total_tokens=0)
    UsageMetrics(registry).observe([RECORD._replace(cache_result="miss"), hit, hit, RECORD])
    got = samples(registry)
    route = (("model", "gpt-4o"), ("provider", "openai"), ("proxy", "team"))
    assert got[("tollgate_cache_total", (*route, ("result", "hit")))] == 2
    assert got[("tollgate_cache_total", (*route, ("result", "miss")))] == 1
    assert got[("tollgate_cache_saved_tokens_total", route)] == 3000
    assert got[("tollgate_tokens_total", (*route, ("type", "input")))] == 2000  # the hits spent none
    assert got[("tollgate_cost_usd_total", route)] == pytest.approx(2 * 0.007)  # RECORD: 400 of 1000 cached


def test_the_grafana_dashboard_uses_only_metrics_that_exist() -> None:
    import json
    import re
    from types import SimpleNamespace

    from tollgate.gateway.app import GatewayState
    from tollgate.gateway.server_limits import ConnectionSlots
    from tollgate.usage.metrics_export import NodeCollector
    from tollgate.usage.recorder import UsageRecorder, UsageRecorderStats

    registry = CollectorRegistry()
    UsageMetrics(registry).observe([RECORD, RECORD._replace(status=500, error_code="upstream_error")])
    stats = UsageRecorderStats(0, 0, 0, 0, 0)
    state = GatewayState("default", UsageRecorder(SimpleNamespace()))  # type: ignore[arg-type]
    state.upstream_errors.add("openai", "timeout")
    state.connections = ConnectionSlots(10)
    state.readiness.store_ok()
    node = SimpleNamespace(
        state=state, applied_revision=3, snapshot_applied_at=1.0, recorder=SimpleNamespace(stats=lambda: stats)
    )
    registry.register(NodeCollector(node))  # type: ignore[arg-type]
    exposed = {s.name for family in registry.collect() for s in family.samples}
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana" / "tollgate.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    used = {name for expr in exprs for name in re.findall(r"\b(?:tollgate|gen_ai)_[a-z_]+", expr)}
    assert len(used) == 17
    assert used <= exposed, used - exposed


def test_traffic_metrics_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from tollgate.usage.metrics_export import traffic_metrics_enabled

    monkeypatch.delenv("TOLLGATE_METRICS", raising=False)
    assert traffic_metrics_enabled()
    monkeypatch.setenv("TOLLGATE_METRICS", " OFF ")
    assert not traffic_metrics_enabled()
