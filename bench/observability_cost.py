"""CPU per record of what the usage writer child does for observability, each part measured alone.

The harness (bench/run_observability.sh) compares whole gateways with metrics and the access log off
and on, but on a busy host the writer child's CPU per request swings with its batch sizes (a fixed
cost per batch spread over however many requests came in half a second). This feeds the same
batches of realistic records (the benchmark's: one provider, one model, streams and non-streams)
through each part of the child in one process and reads its CPU time (`time.process_time`):
the store insert (always on), the traffic metrics (prometheus_client multiprocess mode, files in a
temporary directory, as in the child), the JSON and plain access log (to a file), and the spans
(built and handed to a BatchSpanProcessor whose exporter drops them: the SDK's own cost, not the
network's). The gateway's event loop does none of this work, so it is the whole added cost.

    .venv/bin/python bench/observability_cost.py [--records 20000] [--batch 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

METRICS_DIR = tempfile.mkdtemp(prefix="tollgate-bench-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR  # before prometheus_client is imported

from tollgate.store import Store  # noqa: E402
from tollgate.usage.access_log import AccessLog  # noqa: E402
from tollgate.usage.metrics import UsageMetrics  # noqa: E402
from tollgate.usage.record import SpanFacts, UsageRecord  # noqa: E402


def records(count: int, traced: bool) -> list[UsageRecord]:
    start = time.time() - 3600
    out = []
    for i in range(count):
        stream = i % 2 == 0
        out.append(
            UsageRecord(
                start + i * 0.01, f"bench{i:010x}", "default", "bench", None, "0123456789ab", "POST",
                "/bench/v1/chat/completions", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 120, 100, 220, 200,
                1.8, 0.9 if stream else None, stream, None, None, None, 0, "openai", 1.2,
                SpanFacts(f"{i + 1:032x}", f"{i + 1:016x}", None, "openai", "chat", "/bench", ("stop",))
                if traced else None,
            )
        )  # fmt: skip
    return out


def cpu_per_record(work: Callable[[list[UsageRecord]], None], batches: Sequence[list[UsageRecord]]) -> float:
    """Microseconds of this process's CPU per record for `work` over every batch."""
    started = time.process_time()
    for batch in batches:
        work(batch)
    return (time.process_time() - started) * 1e6 / sum(len(b) for b in batches)


def _null_spans() -> Callable[[list[UsageRecord]], None] | None:
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    except ImportError:
        return None
    from tollgate.usage.traces import SpanExport, _preset_ids

    class Drop(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    ids = _preset_ids()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}), id_generator=ids)  # type: ignore[arg-type]
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=100_000))
    return SpanExport(provider, ids).export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tollgate-bench-obs-"))
    plain = records(args.records, traced=False)
    traced = records(args.records, traced=True)
    split = [plain[i : i + args.batch] for i in range(0, len(plain), args.batch)]
    split_traced = [traced[i : i + args.batch] for i in range(0, len(traced), args.batch)]
    store = Store.open(f"sqlite:///{work / 'usage.db'}")
    metrics = UsageMetrics()
    json_log = AccessLog((work / "access.json").open("a"), "json")
    plain_log = AccessLog((work / "access.log").open("a"), "plain")
    parts: dict[str, Callable[[list[UsageRecord]], None]] = {
        "store insert (always)": store.insert_usage,
        "metrics": metrics.observe,
        "access log, json": json_log.write,
        "access log, plain": plain_log.write,
    }
    spans = _null_spans()
    results: dict[str, list[float]] = {name: [] for name in parts}
    if spans is not None:
        results["spans (traced records)"] = []
    for _ in range(args.runs):
        for name, part in parts.items():
            results[name].append(cpu_per_record(part, split))
        if spans is not None:
            results["spans (traced records)"].append(cpu_per_record(spans, split_traced))
    store.close()
    summary = {name: round(statistics.median(values), 2) for name, values in results.items()}
    print(f"CPU µs per record, median of {args.runs} runs of {args.records} records in batches of {args.batch}")
    for name, value in summary.items():
        print(f"  {name:28} {value:8.2f}")
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"us_per_record": summary, "load": load, "argv": sys.argv[1:]}, indent=2))


if __name__ == "__main__":
    main()
