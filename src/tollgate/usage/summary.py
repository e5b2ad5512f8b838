"""Rendering of the usage API's answers for people: aligned tables of summaries and records.

Works on the API's JSON (dicts), so the CLI imports neither the store nor the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Shown for records without the grouped field (e.g. requests to a provider directly, grouped by proxy).
NONE_LABEL = "(none)"
_MEASURES = ("requests", "errors", "prompt", "completion", "total", "cost", "avg ms")


def format_summary(summary: Mapping[str, Any]) -> str:
    """One line per (bucket, group), numbers right-aligned, and a total line when there are several."""
    rows: Sequence[Mapping[str, Any]] = summary["rows"]
    if not rows:
        return "no usage recorded in this period"
    dimensions: list[str] = list(summary["groupBy"])
    bucketed = summary.get("bucket") is not None
    header = (["bucket"] if bucketed else []) + dimensions + list(_MEASURES)
    lines = [header]
    for row in rows:
        labels = [_bucket_label(row["bucket"])] if bucketed else []
        labels += [NONE_LABEL if row["group"].get(d) is None else str(row["group"][d]) for d in dimensions]
        lines.append(labels + _numbers(row))
    if len(rows) > 1:
        labels = ["total"] + [""] * (len(header) - len(_MEASURES) - 1)
        lines.append(labels + _numbers(summary["total"]))
    currency = summary.get("currency", "USD")
    note = f"cost in {currency} at list prices as of {summary.get('pricesAsOf') or 'unknown'}"
    return align(lines, len(header) - len(_MEASURES)) + "\n" + note


def format_records(records: Sequence[Mapping[str, Any]]) -> str:
    """A table of records: time, provider, proxy, key, model, status, tokens, cost, latency."""
    if not records:
        return "no records"
    header = ["time", "provider", "proxy", "key", "model", "status", "prompt", "completion", "cost", "ms"]
    lines = [header]
    for r in records:
        lines.append(
            [
                str(r["time"])[:19].replace("T", " "),
                r["provider"],
                r["proxy"] or "-",
                r["keyId"] or "-",
                r["responseModel"] or r["requestModel"] or "-",
                str(r["status"]),
                _count(r["promptTokens"]),
                _count(r["completionTokens"]),
                _cost(r["cost"]),
                f"{r['latencyMs']:.1f}",
            ]
        )
    return align(lines, 5)


def align(lines: Sequence[Sequence[str]], text_columns: int) -> str:
    """Columns padded to their widest cell: the first `text_columns` left-aligned, the rest right-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = [
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _numbers(sums: Mapping[str, Any]) -> list[str]:
    avg = sums.get("avgLatencyMs")
    counts = [sums[k] for k in ("requests", "errors", "promptTokens", "completionTokens", "totalTokens")]
    return [_count(n) for n in counts] + [_cost(sums["cost"]), "-" if avg is None else f"{avg:.1f}"]


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _cost(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.4f}" if value < 100 else f"{value:,.2f}"


def _bucket_label(value: str | None) -> str:
    return "-" if value is None else str(value)[:16].replace("T", " ")
