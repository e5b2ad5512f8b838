"""OpenTelemetry spans of traced requests, built and exported by the usage writer child (OTLP).

The gateway only picks ids and passes `traceparent` on (`gateway/tracing.py`); the span, with the
GenAI semantic-convention attributes, is made here from the usage record, after the fact, with the
request's own start and end times, and handed to the SDK's `BatchSpanProcessor`, whose thread
exports over OTLP/HTTP (protobuf). Needs the `otel` extra (`pip install 'tollgate[otel]'`); the
exporter reads the standard `OTEL_EXPORTER_OTLP_*` variables (endpoint, headers, timeout) and the
resource `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tollgate.usage.record import SpanFacts, UsageRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

__all__ = [
    "OPERATION_NAMES",
    "PROVIDER_NAMES",
    "TRACES_ENV",
    "SpanExport",
    "require_otel",
    "sample_ratio",
    "traces_enabled",
]

#: `otlp` turns tracing on; unset or `off`: no trace context, no spans, no cost.
TRACES_ENV = "TOLLGATE_TRACES"
#: `gen_ai.provider.name` of each built-in template (the conventions' well-known values); a custom
#: template is named as it is.
PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "azure-openai": "azure.ai.openai",
    "azure-ai-foundry": "azure.ai.inference",
}
#: `gen_ai.operation.name` of each client API endpoint; others are named as the endpoint is.
OPERATION_NAMES = {
    "chat": "chat",
    "messages": "chat",
    "responses": "chat",
    "generate_content": "generate_content",
    "embeddings": "embeddings",
}
_SCOPE = "tollgate"


def traces_enabled() -> bool:
    """Whether env `TOLLGATE_TRACES` asks for traces (`otlp`); any other value but `off` is an error."""
    value = (os.environ.get(TRACES_ENV) or "off").strip().lower()
    if value in ("", "off"):
        return False
    if value != "otlp":
        raise ValueError(f"{TRACES_ENV} must be 'otlp' or 'off', not {value!r}")
    return True


def require_otel() -> None:
    """Fail at start, with the fix, when tracing is asked for without the `otel` extra installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            f"{TRACES_ENV}=otlp needs the OpenTelemetry SDK: pip install 'tollgate[otel]' ({exc.name} is missing)"
        ) from None


def sample_ratio() -> float:
    """The share of requests without a sampled parent that start a trace: `OTEL_TRACES_SAMPLER_ARG`
    when `OTEL_TRACES_SAMPLER` is `traceidratio` or `parentbased_traceidratio`, else 1."""
    sampler = (os.environ.get("OTEL_TRACES_SAMPLER") or "").strip().lower()
    if sampler not in ("traceidratio", "parentbased_traceidratio"):
        return 1.0
    try:
        ratio = float(os.environ.get("OTEL_TRACES_SAMPLER_ARG") or 1.0)
    except ValueError:
        raise ValueError("OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1") from None
    if not 0.0 <= ratio <= 1.0:
        raise ValueError("OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1")
    return ratio


class _PresetIds:
    """Hands the SDK the ids the gateway already chose (and sent upstream) as its id generator's.

    The child is single-threaded: the ids are set right before each span is started.
    """

    def __init__(self) -> None:
        self.trace_id = 0
        self.span_id = 0

    def generate_span_id(self) -> int:
        return self.span_id

    def generate_trace_id(self) -> int:
        return self.trace_id

    def is_trace_id_random(self) -> bool:
        return True  # the gateway draws them at random (W3C Trace Context level 2 "random" flag)


def _preset_ids() -> _PresetIds:
    """A `_PresetIds` that is also the SDK's `IdGenerator` (imported only when tracing is on)."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class PresetIds(_PresetIds, IdGenerator):
        pass

    return PresetIds()


class SpanExport:
    """Turns traced usage records into spans; one per writer child, `shutdown()` flushes at exit."""

    def __init__(self, provider: TracerProvider, ids: _PresetIds) -> None:
        self._provider = provider
        self._ids = ids
        self._tracer: Tracer = provider.get_tracer(_SCOPE)

    @classmethod
    def from_env(cls) -> SpanExport | None:
        """The OTLP pipeline when `TOLLGATE_TRACES=otlp`, else None."""
        if not traces_enabled():
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        ids = _preset_ids()
        defaults = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "tollgate"}
        provider = TracerProvider(
            sampler=ALWAYS_ON,  # sampled already, by the gateway
            resource=Resource.create(defaults),
            id_generator=ids,  # type: ignore[arg-type]  # a subclass made at run time
        )
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider, ids)

    def export(self, records: Sequence[UsageRecord]) -> None:
        """Start and end one span per traced record (the batch processor exports them later)."""
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

        for record in records:
            if record.trace is None:
                continue
            facts = SpanFacts(*record.trace)
            self._ids.trace_id = int(facts.trace_id, 16)
            self._ids.span_id = int(facts.span_id, 16)
            context = None
            if facts.parent_span_id is not None:
                parent = SpanContext(
                    self._ids.trace_id,
                    int(facts.parent_span_id, 16),
                    is_remote=True,
                    trace_flags=TraceFlags(TraceFlags.SAMPLED),
                )
                context = trace.set_span_in_context(NonRecordingSpan(parent))
            start_ns = int(record.ts * 1e9)
            span = self._tracer.start_span(
                span_name(record, facts),
                context=context,
                kind=SpanKind.SERVER,
                attributes=span_attributes(record, facts),
                start_time=start_ns,
            )
            if record.status >= 500:
                span.set_status(Status(StatusCode.ERROR, record.error_code or None))
            span.end(end_time=start_ns + int(record.latency_ms * 1e6))

    def shutdown(self) -> None:
        """Export what is pending (bounded by the processor's export timeout) and stop."""
        self._provider.shutdown()


def span_name(record: UsageRecord, facts: SpanFacts) -> str:
    """`{gen_ai.operation.name} {gen_ai.request.model}` as the GenAI conventions name a span; the
    HTTP one (`{method} {route}`) for a request that names no model."""
    model = record.request_model or record.response_model
    if model:
        return f"{OPERATION_NAMES.get(facts.operation, facts.operation)} {model}"
    return f"{record.method} {facts.route}"


def span_attributes(record: UsageRecord, facts: SpanFacts) -> dict[str, str | int | float | bool | list[str]]:
    """The span's attributes: GenAI (provider, operation, models, tokens, finish reasons), HTTP
    (method, route, path, status) and Tollgate's own (gateway, provider and proxy resources, request
    and key id). Never a key, a credential or a body."""
    attributes: dict[str, str | int | float | bool | list[str]] = {
        "gen_ai.operation.name": OPERATION_NAMES.get(facts.operation, facts.operation),
        "http.request.method": record.method,
        "http.route": facts.route,
        "url.path": record.path,
        "http.response.status_code": record.status,
        "tollgate.gateway": record.gateway,
        "tollgate.provider": record.provider,
        "tollgate.request_id": record.request_id,
        "tollgate.stream": record.is_streaming,
    }
    if facts.backend is not None:
        name = PROVIDER_NAMES.get(facts.backend, facts.backend)
        attributes["gen_ai.provider.name"] = name
        attributes["gen_ai.system"] = name  # the attribute's name before semantic conventions 1.37
    optional: tuple[tuple[str, str | int | float | None], ...] = (
        ("gen_ai.request.model", record.request_model),
        ("gen_ai.response.model", record.response_model),
        ("gen_ai.usage.input_tokens", record.prompt_tokens),
        ("gen_ai.usage.output_tokens", record.completion_tokens),
        ("gen_ai.usage.cache_read.input_tokens", record.cached_tokens),
        ("error.type", record.error_code),
        ("tollgate.proxy", record.proxy),
        ("tollgate.key_id", record.key_id),
        ("tollgate.ttfb_ms", record.ttfb_ms),
        ("tollgate.upstream_ms", record.upstream_ms),
    )
    for name, value in optional:
        if value is not None:
            attributes[name] = value
    if facts.finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = list(facts.finish_reasons)
    return attributes
