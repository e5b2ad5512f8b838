"""Traces end to end: a node with TOLLGATE_TRACES=otlp, the OpenAI SDK as the client, the mock vendor as
the upstream and an OTLP/HTTP receiver on loopback (protobuf, decoded with opentelemetry-proto).
Asserts the span (ids, kind, GenAI and HTTP attributes with exact token counts, finish reasons) and
that the trace id the client sent is both in the exported span and in the `traceparent` the upstream
received, whose parent is the exported span."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tollgate.mock.server import MockServer
from tollgate.node import Node, NodeConfig
from tollgate.resources.keys import generate_key
from tollgate.usage.traces import span_attributes

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP trace receiver: keeps every span it is sent, with its resource's attributes."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, Any], Span]] = []
        self.content_types: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.content_types.add(self.headers["Content-Type"])
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans.extend((resource, span) for span in scope_spans.spans)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[dict[str, Any], Span]]:
        deadline = time.monotonic() + timeout
        while len(self.spans) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.spans


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()


async def test_spans_reach_an_otlp_receiver_and_the_trace_continues_upstream(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key().value
    monkeypatch.setenv("TG_TRACE_KEY", key)
    monkeypatch.setenv("TOLLGATE_TRACES", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("TOLLGATE_SECRET_KEY", raising=False)
    with MockServer() as mock:
        config = tmp_path / "c.yaml"
        config.write_text(
            "apiVersion: tollgate.dev/v1\nkind: Secret\nmetadata: {name: s}\n"
            f"spec: {{value: {mock.keys['openai']}}}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: LLMProvider\nmetadata: {name: openai}\n"
            f'spec: {{template: openai, context: /openai, upstreamUrl: "{mock.url("openai")}", '
            "credential: {secret: s}}\n---\n"
            "apiVersion: tollgate.dev/v1\nkind: APIKey\nmetadata: {name: k}\n"
            "spec: {target: {kind: LLMProvider, name: openai}, valueFromEnv: TG_TRACE_KEY}\n"
        )
        node = Node(NodeConfig(db_url=f"sqlite:///{tmp_path / 't.db'}", role="gateway", config_paths=[config], port=0))
        await node.start()
        try:
            base = f"http://127.0.0.1:{node.gateway_port}/openai/v1"
            messages: Any = [{"role": "user", "content": "Say hello."}]
            traced = openai.AsyncOpenAI(
                api_key=key,
                base_url=base,
                max_retries=0,
                default_headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"},
            )
            answer = await traced.chat.completions.create(model="gpt-4o", messages=messages)
            upstream_traced = mock.requests("openai")[-1]["headers"]["traceparent"]
            plain = openai.AsyncOpenAI(api_key=key, base_url=base, max_retries=0)
            stream = await plain.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
            async for _ in stream:
                pass
            upstream_root = mock.requests("openai")[-1]["headers"]["traceparent"]
            unsampled = f"00-{TRACE_ID}-{CLIENT_SPAN}-00"
            quiet = openai.AsyncOpenAI(
                api_key=key, base_url=base, max_retries=0, default_headers={"traceparent": unsampled}
            )
            await quiet.chat.completions.create(model="gpt-4o", messages=messages)
            upstream_unsampled = mock.requests("openai")[-1]["headers"]["traceparent"]
            spans = await receiver.wait_for(2)
            await asyncio.sleep(1.0)  # a third span (the unsampled request) would have come by now
        finally:
            await node.shutdown()
    assert receiver.content_types == {"application/x-protobuf"}
    assert len(spans) == 2
    by_trace = {span.trace_id.hex(): (resource, span) for resource, span in spans}
    resource, span = by_trace[TRACE_ID]
    assert resource["service.name"] == "tollgate"
    # continued: the client's trace and span are the span's trace and parent ...
    assert span.parent_span_id.hex() == CLIENT_SPAN
    # ... and the upstream got the same trace with the gateway's span as its parent
    assert upstream_traced == f"00-{TRACE_ID}-{span.span_id.hex()}-01"
    assert span.name == "chat gpt-4o"
    assert span.kind == Span.SPAN_KIND_SERVER
    assert answer.usage is not None
    attributes = {a.key: _value(a.value) for a in span.attributes}
    assert {k: v for k, v in attributes.items() if not k.endswith("_ms") and k != "tollgate.request_id"} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": answer.model,
        "gen_ai.usage.input_tokens": answer.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": answer.usage.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.response.finish_reasons": ["stop"],
        "http.request.method": "POST",
        "http.route": "/openai",
        "url.path": "/openai/v1/chat/completions",
        "http.response.status_code": 200,
        "tollgate.gateway": "default",
        "tollgate.provider": "openai",
        "tollgate.key_id": key.split("_")[1],
        "tollgate.stream": False,
    }
    assert attributes["tollgate.request_id"]
    assert 0 < attributes["tollgate.upstream_ms"] <= (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    # a trace the gateway started: no parent, and its trace went upstream too
    ((_, root),) = [(r, s) for r, s in spans if s.trace_id.hex() != TRACE_ID]
    assert root.parent_span_id == b""
    assert upstream_root == f"00-{root.trace_id.hex()}-{root.span_id.hex()}-01"
    root_attributes = {a.key: _value(a.value) for a in root.attributes}
    assert root_attributes["tollgate.stream"] is True
    assert root_attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert root_attributes["gen_ai.usage.output_tokens"] > 0
    # a client's "not sampled" is respected: no span, and its traceparent passed upstream untouched
    assert upstream_unsampled == unsampled


def test_attributes_never_hold_a_key_or_a_body() -> None:
    from tests.usage_records import usage_record
    from tollgate.usage.record import SpanFacts

    facts = SpanFacts("a" * 32, "b" * 16, None, "gemini", "generate_content", "/g", ("STOP",))
    record = usage_record(ts=1.0, request_id="r", status=502, error_code="upstream_timeout", trace=facts)
    attributes = span_attributes(record, facts)
    assert attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert attributes["gen_ai.operation.name"] == "generate_content"
    assert attributes["error.type"] == "upstream_timeout"
    assert attributes["tollgate.key_id"] == "0123456789ab"
    assert set(attributes) == {
        "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
        "gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
        "gen_ai.response.finish_reasons", "error.type", "http.request.method", "http.route", "url.path",
        "http.response.status_code", "tollgate.gateway", "tollgate.provider", "tollgate.proxy", "tollgate.key_id",
        "tollgate.request_id", "tollgate.stream", "tollgate.ttfb_ms",
    }  # fmt: skip


def test_the_switch_and_the_sample_ratio_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tollgate.usage.traces import sample_ratio, traces_enabled

    monkeypatch.delenv("TOLLGATE_TRACES", raising=False)
    assert not traces_enabled()
    monkeypatch.setenv("TOLLGATE_TRACES", "OTLP")
    assert traces_enabled()
    monkeypatch.setenv("TOLLGATE_TRACES", "jaeger")
    with pytest.raises(ValueError, match="TOLLGATE_TRACES must be 'otlp' or 'off'"):
        traces_enabled()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    assert sample_ratio() == 1.0  # the argument only counts with a ratio sampler
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    assert sample_ratio() == 0.25
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "2")
    with pytest.raises(ValueError, match="between 0 and 1"):
        sample_ratio()
